//! Off-site copies (README "Off-site copies"): every completed backup is copied to each `[[offsite]]`
//! target and read back; the catalogue records each copy (`copies`); `target` talks to the
//! bucket or folder through `object_store`.

pub mod copier;
pub mod copies;
pub mod prune;
pub mod remote;
pub mod target;

pub use copies::OffsiteCopy;
pub use target::{RemoteObject, Target, target_named, targets};
