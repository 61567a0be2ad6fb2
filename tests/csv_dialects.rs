//! What Excel and LibreOffice write is read the same: BOM or none, comma, semicolon or tab,
//! CRLF, Bengali digits, spaces, shuffled and aliased headers. Malformed files name the row.

mod common;
mod csv_support;

use csv_support::*;
use somiti::csvio::{self, ImportReport};
use somiti::ledger::member::{self, MemberQuery};

/// The members every dialect below describes.
const CANONICAL: &str = "\u{feff}member_no,name,nid,mobile,worker,loan_amount,daily_installment,daily_savings,joined_on,status\r\n\
1,রহিমা খাতুন,1990123456,01712345678,করিম,10000.00,100.00,20.00,2026-01-15,active\r\n\
2,\"Begum, Salma\",1234567890123,01812345678,,0,0,5.50,2026-02-01,inactive\r\n";

const DIALECTS: &[(&str, &str)] = &[
    (
        "no BOM, semicolons, LF, Bengali digits, decimal commas",
        "member_no;name;nid;mobile;worker;loan_amount;daily_installment;daily_savings;joined_on;status\n\
         ১;রহিমা খাতুন;১৯৯০১২৩৪৫৬;০১৭১২৩৪৫৬৭৮;করিম;১০০০০;১০০;২০;২০২৬-০১-১৫;active\n\
         2;Begum, Salma;1234567890123;01812345678;;0;0;5,50;2026-02-01;inactive\n",
    ),
    (
        "shuffled, aliased, mixed-case headers with spaces around every value",
        "\u{feff} Phone , National ID,Member Name, No. ,Daily Savings,Loan (Tk),INSTALLMENT,Joined On,Field Worker,Status\r\n\
         \" 01712345678 \",  1990123456 , রহিমা খাতুন ,  1 , 20 ,\"10,000.00\", 100 , 2026-01-15 , করিম , Active \r\n\
         +8801812345678,1234567890123,\"Begum, Salma\",2,৳ 5.50,,,2026-02-01 00:00:00,,INACTIVE\r\n",
    ),
    (
        "Bengali headers",
        "সদস্য নং,নাম,এনআইডি,মোবাইল,কর্মী,ঋণ,কিস্তি,সঞ্চয়,ভর্তির তারিখ,অবস্থা\r\n\
         1,রহিমা খাতুন,1990123456,01712345678,করিম,10000,100,20,2026-01-15,active\r\n\
         2,\"Begum, Salma\",1234567890123,01812345678,,0,0,5.5,2026-02-01,inactive\r\n",
    ),
    (
        "Excel's sep= line, tabs, empty trailing columns and rows",
        "sep=\t\r\nmember_no\tname\tnid\tmobile\tworker\tloan\tinstallment\tsavings\tjoined\tstatus\t\r\n\
         1\tরহিমা খাতুন\t1990123456\t01712345678\tকরিম\t10000\t100\t20\t2026-01-15\tactive\t\r\n\
         2\tBegum, Salma\t1234567890123\t01812345678\t\t0\t0\t5.50\t2026-02-01\tinactive\t\r\n\
         \t\t\t\t\t\t\t\t\t\t\r\n",
    ),
    (
        "export columns (balances, organization) are accepted and ignored",
        "\u{feff}org_code,organization,member_no,name,nid,mobile,worker,loan_amount,daily_installment,daily_savings,status,joined_on,loan_outstanding,savings_balance,arrears,days_in_arrears\r\n\
         DEMO,Somiti,1,রহিমা খাতুন,1990123456,01712345678,করিম,10000.00,100.00,20.00,active,2026-01-15,1.00,2.00,3.00,4\r\n\
         demo,Somiti,2,\"Begum, Salma\",1234567890123,01812345678,,0.00,0.00,5.50,inactive,2026-02-01,0.00,0.00,0.00,0\r\n",
    ),
];

/// Import `text` into a fresh ledger and return the members as comparable text.
async fn members_after_import(text: &str) -> (ImportReport, Vec<String>) {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    worker(t.store(), &o, "করিম").await;
    let path = write(t.dir.path(), "m.csv", text);
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    let q = MemberQuery {
        limit: 10,
        ..Default::default()
    };
    let (rows, _) = member::list(t.store(), &admin(), &o, &q).await.unwrap();
    let seen = rows
        .iter()
        .map(|r| {
            let m = &r.member;
            let (loan, installment) = r
                .accounts
                .loan
                .as_ref()
                .map_or((0, 0), |l| (l.principal, l.installment));
            format!(
                "{}|{}|{}|{}|{:?}|{}|{}|{}|{}|{}",
                m.member_no,
                m.name,
                m.nid,
                m.mobile,
                r.worker_name,
                loan,
                installment,
                m.daily_savings,
                m.joined_on,
                m.status
            )
        })
        .collect();
    (rep, seen)
}

#[tokio::test]
async fn every_excel_dialect_imports_the_same_members() {
    let (rep, expected) = members_after_import(CANONICAL).await;
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    assert_eq!(
        expected[0],
        "1|রহিমা খাতুন|1990123456|01712345678|Some(\"করিম\")|1000000|10000|2000|2026-01-15|active"
    );
    assert_eq!(
        expected[1],
        "2|Begum, Salma|1234567890123|01812345678|None|0|0|550|2026-02-01|inactive"
    );
    for (what, text) in DIALECTS {
        let (rep, got) = members_after_import(text).await;
        assert!(rep.is_ok(), "{what}: {:#?}", rep.problems);
        assert_eq!(rep.imported, 2, "{what}");
        assert_eq!(got, expected, "{what}");
    }
}

async fn problems_of(text: &[u8]) -> Vec<String> {
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let path = write(t.dir.path(), "m.csv", text);
    let rep = csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    assert_eq!(member_count(t.store()).await, 0);
    rep.problems.iter().map(|p| p.to_string()).collect()
}

#[tokio::test]
async fn a_malformed_file_gets_a_clear_problem_naming_the_row() {
    let head = "member_no,name,nid,mobile\n";
    let ragged =
        format!("{head}1,A,1990123456,01712345678\n2,B,1990123457\n3,C,1990123458,01712345670,x\n");
    let p = problems_of(ragged.as_bytes()).await;
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("row 3: has 3 cells but the header has 4"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("row 4: has 5 cells") && p[1].contains("double quotes"),
        "{p:?}"
    );

    let unclosed = format!("{head}1,\"A,1990123456,01712345678\n2,B,1990123457,01712345679\n");
    let p = problems_of(unclosed.as_bytes()).await;
    assert!(
        p[0].starts_with("row 2: has 2 cells") && p[0].contains("never closed"),
        "{p:?}"
    );

    let mut latin1 = format!("{head}1,A,1990123456,01712345678\n").into_bytes();
    latin1.extend_from_slice(b"2,Jos\xE9,1990123457,01712345679\n");
    let p = problems_of(&latin1).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("row 3, column B (name): is not UTF-8"),
        "{p:?}"
    );
    assert!(p[0].contains("CSV UTF-8"), "{p:?}");

    let p = problems_of(b"\xFF\xFEm\0e\0").await;
    assert!(p[0].contains("UTF-16"), "{p:?}");
    let p = problems_of(head.as_bytes()).await;
    assert_eq!(p, ["row 2: the file has a header but no member rows"]);
    let p = problems_of(b"").await;
    assert!(p[0].contains("empty"), "{p:?}");
}

#[tokio::test]
async fn an_unknown_or_missing_column_is_reported_with_the_accepted_names() {
    let p = problems_of("member_no,name,moblie,nid\n1,A,01712345678,1990123456\n".as_bytes()).await;
    assert!(
        p[0].contains("no mobile column (accepted names: mobile, phone"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with(
            "row 1, column C (moblie): is not a member column; use org_code, member_no"
        ),
        "{p:?}"
    );
}

#[tokio::test]
async fn numbers_excel_mangled_get_a_hint_on_how_to_keep_them() {
    let text = "member_no,name,nid,mobile,joined_on\n1,A,1.99012E+12,1712345678,01/03/2026\n";
    let p = problems_of(text.as_bytes()).await;
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(
        p[0].contains("column C (nid)") && p[0].contains("format the column as Text"),
        "{p:?}"
    );
    assert!(
        p[1].contains("column D (mobile)") && p[1].contains("dropped the leading 0"),
        "{p:?}"
    );
    assert!(
        p[2].contains("column E (joined_on)") && p[2].contains("ambiguous"),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_row_for_another_organization_is_refused() {
    let text = "org_code,member_no,name,nid,mobile\nBOGRA,1,A,1990123456,01712345678\n";
    let p = problems_of(text.as_bytes()).await;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("the row is for BOGRA but the import is into DEMO"),
        "{p:?}"
    );
}

#[tokio::test]
async fn an_export_imports_into_a_fresh_ledger_unchanged() {
    let (_, expected) = members_after_import(CANONICAL).await;
    // export from one ledger, import into another: the same members come out
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    worker(t.store(), &o, "করিম").await;
    let path = write(t.dir.path(), "in.csv", CANONICAL);
    csvio::import_members(t.store(), &admin(), &o, &path, false)
        .await
        .unwrap();
    let out = t.dir.path().join("out.csv");
    csvio::export_members(t.store(), &admin(), &o, None, &out)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let (rep, got) = members_after_import(&text).await;
    assert!(rep.is_ok(), "{:#?}", rep.problems);
    assert_eq!(got, expected);
}
