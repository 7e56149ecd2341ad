//! One module per subcommand: each runs its phases and returns a [`crate::report::Report`].

pub(crate) mod fanout;
pub(crate) mod idle;
pub(crate) mod ingest;
pub(crate) mod resume;
