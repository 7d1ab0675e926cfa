//! The `regex` API that hull's dependencies use, backed by `regex-lite`:
//! backtracking-free and Unicode-table-free, about a tenth of the code. Its
//! `Regex`, `RegexBuilder`, `Captures` and `Error` match `regex`'s for
//! ordinary patterns such as oci-spec's `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`.
pub use regex_lite::*;
