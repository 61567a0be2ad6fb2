//! Names and places: people, field workers, organizations and districts, and the valid,
//! unused NIDs and mobile numbers made from them.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::plan::Taken;
use crate::ledger::org::NewOrganization;

/// A login-like name for an existing worker: the last word of the name, lowercased.
pub(super) fn username_for(name: &str, id: i64) -> String {
    let word: String = name
        .split_whitespace()
        .next_back()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if word.is_empty() {
        format!("worker{id}")
    } else {
        word
    }
}

/// A valid, unused mobile: `01[3-9]` and eight digits (the big operators more often).
pub(super) fn mobile(rng: &mut ChaCha8Rng, taken: &mut Taken) -> String {
    const PREFIXES: [&str; 10] = [
        "017", "017", "019", "018", "013", "016", "015", "014", "019", "017",
    ];
    loop {
        let m = format!(
            "{}{:08}",
            PREFIXES[rng.random_range(0..PREFIXES.len())],
            rng.random_range(0..100_000_000u32)
        );
        if taken.mobiles.insert(m.clone()) {
            return m;
        }
    }
}

/// A valid NID not used anywhere in the database: a 10-digit smart-card number, or the
/// older 13-digit form (district, upazila, serial), or 17 digits (birth year first).
pub(super) fn nid(rng: &mut ChaCha8Rng, district: &str, taken: &mut Taken) -> String {
    loop {
        let r: f64 = rng.random();
        let n = if r < 0.5 {
            format!(
                "{}{:09}",
                rng.random_range(1..=9u32),
                rng.random_range(0..1_000_000_000u32)
            )
        } else {
            let old = format!(
                "{district}{:02}{:09}",
                rng.random_range(1..=40u32),
                rng.random_range(0..1_000_000_000u32)
            );
            if r < 0.7 {
                old
            } else {
                format!("{}{old}", rng.random_range(1955..=2003u32))
            }
        };
        if taken.nids.insert(n.clone()) {
            return n;
        }
    }
}

pub(super) type NamePart = (&'static str, &'static str);

pub(super) fn pick(rng: &mut ChaCha8Rng, list: &[NamePart]) -> NamePart {
    list[rng.random_range(0..list.len())]
}

/// A member's name: mostly women (as in most somitis), Muslim and Hindu names, about a
/// third written in Bengali script.
pub(super) fn member_name(rng: &mut ChaCha8Rng) -> String {
    let bengali = rng.random_bool(0.35);
    let r: f64 = rng.random();
    let parts: Vec<NamePart> = if r < 0.72 {
        let mut v = Vec::new();
        if rng.random_bool(0.3) {
            v.push(("Mst.", "মোছাঃ"));
        }
        v.push(pick(rng, FEMALE_GIVEN));
        v.push(pick(rng, FEMALE_FAMILY));
        v
    } else if r < 0.90 {
        let mut v = Vec::new();
        if rng.random_bool(0.6) {
            v.push(("Md.", "মোঃ"));
        }
        v.push(pick(rng, MALE_GIVEN));
        v.push(pick(rng, MALE_FAMILY));
        v
    } else if r < 0.96 {
        vec![
            pick(rng, HINDU_FEMALE_GIVEN),
            ("Rani", "রাণী"),
            pick(rng, HINDU_FAMILY),
        ]
    } else {
        vec![
            pick(rng, HINDU_MALE_GIVEN),
            ("Chandra", "চন্দ্র"),
            pick(rng, HINDU_FAMILY),
        ]
    };
    parts
        .iter()
        .map(|(latin, bn)| if bengali { *bn } else { *latin })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn org_profile(index: usize, code: &str) -> NewOrganization {
    let (name, address, contact) = ORG_PROFILES[index % ORG_PROFILES.len()];
    let round = index / ORG_PROFILES.len();
    let name = if round == 0 {
        name.to_string()
    } else {
        format!("{name} ({})", round + 1)
    };
    // A fixed, valid contact number derived from the index keeps runs repeatable.
    let mobile = format!("0171{:07}", 1_234_567 + index * 1_111);
    NewOrganization {
        code: code.to_string(),
        name,
        address: address.to_string(),
        contact_person: contact.to_string(),
        mobile,
        email: format!("{}@somiti.example.org", code.to_ascii_lowercase()),
        timezone: None,
        collection_days: None,
    }
}

pub(super) const FEMALE_GIVEN: &[NamePart] = &[
    ("Rahima", "রহিমা"),
    ("Salma", "সালমা"),
    ("Nasima", "নাসিমা"),
    ("Fatema", "ফাতেমা"),
    ("Amena", "আমেনা"),
    ("Rokeya", "রোকেয়া"),
    ("Shirin", "শিরিন"),
    ("Morjina", "মর্জিনা"),
    ("Hasina", "হাসিনা"),
    ("Jahanara", "জাহানারা"),
    ("Kulsum", "কুলসুম"),
    ("Rina", "রিনা"),
    ("Shahana", "শাহানা"),
    ("Nurjahan", "নূরজাহান"),
    ("Halima", "হালিমা"),
    ("Monowara", "মনোয়ারা"),
    ("Laily", "লাইলী"),
    ("Sufia", "সুফিয়া"),
    ("Taslima", "তাসলিমা"),
    ("Ayesha", "আয়েশা"),
    ("Khadija", "খাদিজা"),
    ("Rupali", "রূপালী"),
    ("Sathi", "সাথী"),
    ("Mariam", "মরিয়ম"),
    ("Josna", "জোসনা"),
    ("Bilkis", "বিলকিস"),
    ("Rehana", "রেহানা"),
    ("Anowara", "আনোয়ারা"),
    ("Rashida", "রাশিদা"),
    ("Shapla", "শাপলা"),
    ("Momena", "মোমেনা"),
    ("Hajera", "হাজেরা"),
];

pub(super) const FEMALE_FAMILY: &[NamePart] = &[
    ("Khatun", "খাতুন"),
    ("Begum", "বেগম"),
    ("Akter", "আক্তার"),
    ("Bibi", "বিবি"),
    ("Sultana", "সুলতানা"),
    ("Parvin", "পারভীন"),
    ("Nesa", "নেছা"),
    ("Yasmin", "ইয়াসমিন"),
];

pub(super) const MALE_GIVEN: &[NamePart] = &[
    ("Karim", "করিম"),
    ("Abdur Rahim", "আব্দুর রহিম"),
    ("Abdul Jalil", "আব্দুল জলিল"),
    ("Rafiqul", "রফিকুল"),
    ("Shahidul", "শহিদুল"),
    ("Aminul", "আমিনুল"),
    ("Jamal", "জামাল"),
    ("Kamal", "কামাল"),
    ("Habibur", "হাবিবুর"),
    ("Mizanur", "মিজানুর"),
    ("Abul Kashem", "আবুল কাশেম"),
    ("Nurul", "নুরুল"),
    ("Anwar", "আনোয়ার"),
    ("Selim", "সেলিম"),
    ("Mokbul", "মকবুল"),
    ("Azizul", "আজিজুল"),
    ("Harun", "হারুন"),
    ("Motaleb", "মোতালেব"),
    ("Abdul Mannan", "আব্দুল মান্নান"),
    ("Delwar", "দেলোয়ার"),
];

pub(super) const MALE_FAMILY: &[NamePart] = &[
    ("Uddin", "উদ্দিন"),
    ("Islam", "ইসলাম"),
    ("Hossain", "হোসেন"),
    ("Rahman", "রহমান"),
    ("Mia", "মিয়া"),
    ("Sheikh", "শেখ"),
    ("Ali", "আলী"),
    ("Haque", "হক"),
    ("Sarker", "সরকার"),
    ("Mollah", "মোল্লা"),
    ("Howlader", "হাওলাদার"),
    ("Bepari", "বেপারী"),
];

pub(super) const HINDU_FEMALE_GIVEN: &[NamePart] = &[
    ("Anjali", "অঞ্জলি"),
    ("Kalpana", "কল্পনা"),
    ("Mala", "মালা"),
    ("Sabita", "সবিতা"),
    ("Shefali", "শেফালী"),
    ("Dipali", "দীপালি"),
    ("Lakshmi", "লক্ষ্মী"),
    ("Shila", "শীলা"),
];

pub(super) const HINDU_MALE_GIVEN: &[NamePart] = &[
    ("Gopal", "গোপাল"),
    ("Nirmal", "নির্মল"),
    ("Haripada", "হরিপদ"),
    ("Shyamal", "শ্যামল"),
    ("Bimal", "বিমল"),
    ("Uttam", "উত্তম"),
];

pub(super) const HINDU_FAMILY: &[NamePart] = &[
    ("Das", "দাস"),
    ("Pal", "পাল"),
    ("Saha", "সাহা"),
    ("Mondal", "মন্ডল"),
    ("Sarkar", "সরকার"),
    ("Ghosh", "ঘোষ"),
    ("Biswas", "বিশ্বাস"),
    ("Roy", "রায়"),
];

/// Field workers: (name, login-like username used as `entered_by`).
pub(super) const WORKER_NAMES: &[(&str, &str)] = &[
    ("Md. Abdul Halim", "halim"),
    ("Shahnaz Parvin", "shahnaz"),
    ("Md. Rafiqul Islam", "rafiq"),
    ("Nasrin Sultana", "nasrin"),
    ("Jahangir Alam", "jahangir"),
    ("Ratna Rani Saha", "ratna"),
    ("Md. Shariful Islam", "sharif"),
    ("Farzana Akter", "farzana"),
    ("Abu Bakar Siddique", "abubakar"),
    ("Mahmuda Khatun", "mahmuda"),
    ("Tarikul Islam", "tarik"),
    ("Sumon Chandra Das", "sumon"),
    ("Lovely Begum", "lovely"),
    ("Md. Masud Rana", "masud"),
    ("Mousumi Akter", "mousumi"),
    ("Kamrul Hasan", "kamrul"),
    ("Rubina Yasmin", "rubina"),
    ("Md. Sohel Rana", "sohel"),
    ("Popy Rani Pal", "popy"),
    ("Md. Alamgir Hossain", "alamgir"),
    ("Shamima Nasrin", "shamima"),
    ("Delwar Hossain", "delwar"),
    ("Hasna Hena", "hasna"),
    ("Bappy Sarker", "bappy"),
];

/// Two-digit district codes as they appear in older NIDs.
pub(super) const DISTRICTS: &[&str] = &[
    "26", "15", "19", "10", "47", "81", "91", "06", "09", "61", "85", "88", "54", "75", "41", "29",
    "93", "32", "50", "27",
];

/// (name, address, contact person) of the organizations the demo adds.
pub(super) const ORG_PROFILES: &[(&str, &str, &str)] = &[
    (
        "Shapla Mohila Unnayan Somiti",
        "Char Kukri Mukri, Charfesson, Bhola",
        "Mst. Jahanara Begum",
    ),
    (
        "Padma Sanchay O Rin Dan Somiti",
        "Shibchar Bazar, Shibchar, Madaripur",
        "Md. Nurul Islam",
    ),
    (
        "Jamuna Polli Unnayan Samabay Samity",
        "Kazipur Road, Sirajganj Sadar, Sirajganj",
        "Rokeya Sultana",
    ),
    (
        "Meghna Krishi Samabay Somiti",
        "Gouripur Bazar, Daudkandi, Cumilla",
        "Md. Abul Kashem",
    ),
    (
        "Surma Nari Kallyan Somiti",
        "Gobindaganj, Chhatak, Sunamganj",
        "Hasina Akter",
    ),
    (
        "Teesta Doridro Unnayan Somiti",
        "Tepa Khribari, Dimla, Nilphamari",
        "Gopal Chandra Roy",
    ),
    (
        "Karatoa Sanchay Somiti",
        "Mokamtola, Shibganj, Bogura",
        "Morjina Khatun",
    ),
    (
        "Rupsha Mohila Samabay Samity",
        "Senhati, Dighalia, Khulna",
        "Anjali Rani Das",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::validate;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut taken = Taken {
            nids: HashSet::new(),
            mobiles: HashSet::new(),
        };
        for _ in 0..2_000 {
            let n = nid(&mut rng, "26", &mut taken);
            assert_eq!(validate::nid(&n).unwrap(), n);
            let m = mobile(&mut rng, &mut taken);
            assert_eq!(validate::mobile(&m).unwrap(), m);
        }
        assert_eq!(taken.nids.len(), 2_000);
    }

    #[test]
    fn names_mix_scripts() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let names: Vec<String> = (0..200).map(|_| member_name(&mut rng)).collect();
        let bengali = names
            .iter()
            .filter(|n| n.chars().any(|c| ('\u{0980}'..='\u{09FF}').contains(&c)))
            .count();
        assert!(bengali > 20 && bengali < 180, "{bengali} of 200 in Bengali");
    }

    #[test]
    fn usernames_from_names() {
        assert_eq!(username_for("Md. Abdul Halim", 3), "halim");
        assert_eq!(username_for("রহিম", 4), "worker4");
    }
}
