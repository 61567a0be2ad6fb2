//! The exported members file opened by LibreOffice Calc: Bengali names readable, money and
//! dates as numbers. Runs when `soffice` and `python3` are on PATH (CI installs
//! libreoffice-calc-nogui); skipped with a note otherwise.

mod common;
mod csv_support;

use std::process::Command;

use csv_support::*;
use somiti::csvio;

/// Reads an .xlsx back: every cell as [ref, type, value] (`s` text, `n` number).
const READ_XLSX: &str = r#"
import sys, zipfile, json
import xml.etree.ElementTree as ET
M = '{http://schemas.openxmlformats.org/spreadsheetml/2006/main}'
z = zipfile.ZipFile(sys.argv[1])
shared = []
if 'xl/sharedStrings.xml' in z.namelist():
    for si in ET.fromstring(z.read('xl/sharedStrings.xml')).iter(M + 'si'):
        shared.append(''.join(t.text or '' for t in si.iter(M + 't')))
cells = {}
for c in ET.fromstring(z.read('xl/worksheets/sheet1.xml')).iter(M + 'c'):
    v = c.find(M + 'v')
    t = c.get('t', 'n')
    val = None if v is None else v.text
    if t == 's' and val is not None:
        val = shared[int(val)]
    cells[c.get('r')] = [t, val]
print(json.dumps(cells, ensure_ascii=False))
"#;

fn on_path(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn libreoffice_opens_the_export_with_bengali_names_and_money_as_numbers() {
    if !on_path("soffice") || !on_path("python3") {
        eprintln!("soffice or python3 is not on PATH; skipping the LibreOffice check");
        return;
    }
    let t = CsvTest::sqlite().await;
    let o = org(t.store(), "DEMO").await;
    let mut m = input(1, "রহিমা খাতুন");
    m.daily_savings = 550;
    add_member(t.store(), &o, &m).await;
    add_member(t.store(), &o, &input(2, "Begum, \"Salma\"")).await;
    let csv = t.dir.path().join("members.csv");
    csvio::export_members(t.store(), &admin(), &o, None, &csv)
        .await
        .unwrap();

    // Charset token 76 is UTF-8, what the Text Import dialog picks for a file with a BOM;
    // headless conversion without it assumes Windows-1252.
    let profile = t.dir.path().join("lo-profile");
    let outdir = t.dir.path().join("xlsx");
    let run = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "xlsx",
        ])
        .arg("--outdir")
        .arg(&outdir)
        .arg(&csv)
        .output()
        .unwrap();
    let xlsx = outdir.join("members.xlsx");
    assert!(
        xlsx.exists(),
        "soffice failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = Command::new("python3")
        .arg("-c")
        .arg(READ_XLSX)
        .arg(&xlsx)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let cells: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let cell = |r: &str| (cells[r][0].as_str(), cells[r][1].as_str());
    assert_eq!(
        cell("A1"),
        (Some("s"), Some("org_code")),
        "no BOM left in A1"
    );
    assert_eq!(cell("D1"), (Some("s"), Some("name")));
    assert_eq!(cell("D2"), (Some("s"), Some("রহিমা খাতুন")));
    assert_eq!(cell("D3"), (Some("s"), Some("Begum, \"Salma\"")));
    assert_eq!(cell("B2"), (Some("s"), Some("সোনালী সমিতি DEMO")));
    // H loan_amount, I daily_installment, J daily_savings, M loan_outstanding: numbers
    assert_eq!(cell("H2"), (Some("n"), Some("10000")));
    assert_eq!(cell("I2"), (Some("n"), Some("100")));
    assert_eq!(cell("J2"), (Some("n"), Some("5.5")));
    assert_eq!(cell("M2").0, Some("n"));
    // L joined_on 2026-01-15 is a date: serial 46037 in the spreadsheet's calendar
    assert_eq!(cell("L2"), (Some("n"), Some("46037")));
}
