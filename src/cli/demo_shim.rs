// Temporary: stands in for crate::demo until the generator lands (same signatures).
use crate::db::Store;
use crate::error::{Error, Result};

pub struct DemoOptions {
    pub members: u32,
    pub days: u32,
    pub orgs: u32,
    pub seed: u64,
}

#[derive(serde::Serialize)]
pub struct DemoSummary {
    pub organizations: Vec<String>,
    pub workers: u64,
    pub members: u64,
    pub collections: u64,
    pub reversals: u64,
}

pub async fn generate(
    _: &Store,
    _: &str,
    _: &DemoOptions,
    _: chrono::NaiveDate,
) -> Result<DemoSummary> {
    Err(Error::Other("demo generator not built yet".into()))
}
