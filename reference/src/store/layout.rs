//! The store's table layouts and payload column types, chosen at run time.

use std::fmt;

/// How the log is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Declaratively partitioned by school, one LIST partition per school (the target).
    Partitioned,
    /// One unpartitioned table with a global insert order.
    SingleLog,
    /// The single log as the 2017 library published it: the same table, and a statement
    /// trigger that numbers `insert_order` under a transaction-scoped advisory lock
    /// (`schema.rs`, [`crate::append::Strategy::Rill`]).
    RillLog,
}

/// The payload column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadType {
    /// `jsonb`: parsed and stored binary by the server.
    Jsonb,
    /// `json`: stored as text, checked on input.
    Json,
    /// `bytea`: raw bytes, not checked.
    Bytea,
}

impl Layout {
    /// The name scenarios and results use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Partitioned => "partitioned",
            Self::SingleLog => "single-log",
            Self::RillLog => "rill-log",
        }
    }

    /// Parses a scenario's spelling (`rill-log` is the rill strategy's own).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Partitioned, Self::SingleLog].into_iter().find(|l| l.name() == s)
    }

    /// Whether the log is one table in global order (`SingleLog` or `RillLog`).
    pub fn single_table(self) -> bool {
        matches!(self, Self::SingleLog | Self::RillLog)
    }
}

impl PayloadType {
    /// The name scenarios and results use, which is also the SQL type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jsonb => "jsonb",
            Self::Json => "json",
            Self::Bytea => "bytea",
        }
    }

    /// Parses a scenario's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Jsonb, Self::Json, Self::Bytea].into_iter().find(|p| p.name() == s)
    }

    /// SQL turning a `bytea` expression holding UTF-8 JSON into the column's type.
    pub fn from_bytea(self, expr: &str) -> String {
        match self {
            Self::Bytea => expr.to_string(),
            Self::Json => format!("convert_from({expr}, 'UTF8')::json"),
            Self::Jsonb => format!("convert_from({expr}, 'UTF8')::jsonb"),
        }
    }

    /// SQL reading the payload column back as JSON text.
    pub fn to_text(self, column: &str) -> String {
        match self {
            Self::Bytea => format!("convert_from({column}, 'UTF8')"),
            Self::Json | Self::Jsonb => format!("{column}::text"),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
