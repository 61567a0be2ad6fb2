//! `somiti_meta`: facts about the database itself, not the ledger. `database_id` names this
//! database in every archive's manifest, so an off-site target's prune deletes only archives
//! it can prove are this database's.

use crate::db::Store;
use crate::error::Result;
use crate::on_store;

const DATABASE_ID: &str = "database_id";

/// This database's id, made (a random UUID) the first time it is asked for.
pub async fn database_id(store: &Store) -> Result<String> {
    if let Some(id) = get(store, DATABASE_ID).await? {
        return Ok(id);
    }
    let fresh = uuid::Uuid::new_v4().to_string();
    on_store!(store, |p| sqlx::query(
        "INSERT INTO somiti_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
    )
    .bind(DATABASE_ID)
    .bind(&fresh)
    .execute(p)
    .await?
    .rows_affected());
    // Whoever inserted first wins; everyone reads the same id.
    Ok(get(store, DATABASE_ID).await?.unwrap_or(fresh))
}

/// Adopt an archive's database id: after a restore of everything, this database is the one
/// the archive was taken of, and its off-site archives are ours to prune.
pub async fn set_database_id(store: &Store, id: &str) -> Result<()> {
    on_store!(store, |p| sqlx::query(
        "INSERT INTO somiti_meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    )
    .bind(DATABASE_ID)
    .bind(id)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

async fn get(store: &Store, key: &str) -> Result<Option<String>> {
    Ok(on_store!(store, |p| sqlx::query_scalar::<_, String>(
        "SELECT value FROM somiti_meta WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(p)
    .await?))
}
