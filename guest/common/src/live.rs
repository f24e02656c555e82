//! The live view's side of a provider (WIT `live`, docs/live-view.md), in Rust types.
//!
//! A provider whose store can be followed implements [`Follow`]: which requests list and watch a kind, and
//! pure decoders of their answers. The host sends the requests, keeps the watch stream and the decoded items;
//! a lookup gets the items of its id back through [`ViewAccess`]. Providers that cannot be followed use
//! [`NoFollow`], whose `list_request` answers `None`.

use crate::error::LookupError;

/// The kinds of entry a live view follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Airflow connections (`get-conn-value`, `get-connection`).
    Connection,
    /// Airflow variables.
    Variable,
    /// Airflow config values.
    Config,
}

/// One stored object as the live view keeps it: ordered by `name`, grouped by `id`, and a `payload` in the
/// provider's own encoding that the host never reads.
#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    /// The object's name: its identity in later changes and its place in the list order.
    pub name: String,
    /// The id a lookup finds it by.
    pub id: String,
    /// Everything else a lookup needs; may hold the secret value.
    pub payload: Vec<u8>,
}

/// Name and id only: the payload may hold a secret.
impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

/// One decoded list answer (its items went to the host one by one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The token of the next page, if the list continues.
    pub continue_token: Option<String>,
    /// The store's version of the listed state: where the watch starts.
    pub resource_version: String,
}

/// What one watch line changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The object now holds this item (replacing any item of that name).
    Put(Item),
    /// The object of this name no longer answers any id of the kind.
    Removed(String),
    /// Only the version moved (a bookmark).
    Progress,
    /// The starting version is gone: list again.
    Expired,
}

/// One decoded watch line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What changed.
    pub change: Change,
    /// The store's version after this line, when it carries one.
    pub resource_version: Option<String>,
}

/// The WIT `live` functions of one provider, over one configuration.
pub trait Follow {
    /// The path and query of one list page of `kind`, or `None` when `kind` cannot be followed.
    fn list_request(&mut self, kind: Kind, continue_token: Option<&str>) -> Result<Option<String>, LookupError>;

    /// Decodes one list answer: every item goes to `listed`, which answers `false` when the host's budget is
    /// spent (the decoder then stops with an error).
    fn decode_list(
        &mut self,
        kind: Kind,
        status: u16,
        body: &[u8],
        listed: &mut dyn FnMut(Item) -> bool,
    ) -> Result<Page, LookupError>;

    /// The path and query of a watch of `kind` from `resource_version`.
    fn watch_request(&mut self, kind: Kind, resource_version: &str) -> Result<String, LookupError>;

    /// Decodes one watch line.
    fn decode_event(&mut self, kind: Kind, line: &[u8]) -> Result<Event, LookupError>;
}

/// The [`Follow`] of a provider whose store cannot be followed: nothing is listed, so the host never asks for
/// the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFollow;

impl NoFollow {
    fn refused() -> LookupError {
        LookupError::InvalidRequest("this provider does not keep a live view".to_owned())
    }
}

impl Follow for NoFollow {
    fn list_request(&mut self, _: Kind, _: Option<&str>) -> Result<Option<String>, LookupError> {
        Ok(None)
    }

    fn decode_list(&mut self, _: Kind, _: u16, _: &[u8], _: &mut dyn FnMut(Item) -> bool) -> Result<Page, LookupError> {
        Err(Self::refused())
    }

    fn watch_request(&mut self, _: Kind, _: &str) -> Result<String, LookupError> {
        Err(Self::refused())
    }

    fn decode_event(&mut self, _: Kind, _: &[u8]) -> Result<Event, LookupError> {
        Err(Self::refused())
    }
}

/// What a lookup can ask of the host's live view: the items held for `id`, in name order, or `None` when the
/// host keeps no usable view of `kind` (the lookup then asks the store).
pub trait ViewAccess {
    /// The items of `id`, or `None`.
    fn view(&mut self, kind: Kind, id: &str) -> Option<Vec<Item>>;
}
