//! The problem sink of validation: an [`Issue`] names the path of a bad value and what is
//! wrong with it; [`Issues`] collects them all, never stopping at the first.

/// One problem in a declarative config: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Path of the offending value, e.g. `services[0].routes[1].paths[0]`.
    pub path: String,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The problems found so far, and the paths whose findings are muted (see [`Issues::mute`]).
#[derive(Debug, Default)]
pub struct Issues(pub Vec<Issue>, Vec<(String, bool)>);

impl Issues {
    /// Records one problem.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let muted = self.1.iter().any(|(m, exact)| {
            if *exact {
                path == *m
            } else {
                crate::lenient::is_under(&path, m)
            }
        });
        if !muted {
            self.0.push(Issue {
                path,
                message: message.into(),
            });
        }
    }

    /// Drops later findings at `path` (and under it unless `exact`): a field already reported
    /// and dropped would only cause false follow-ups there.
    pub fn mute(&mut self, path: impl Into<String>, exact: bool) {
        self.1.push((path.into(), exact));
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// `path.field`, or `path[i]` for an index.
pub fn join(path: &str, field: &str) -> String {
    if field.is_empty() {
        path.to_string()
    } else if path.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{path}{field}")
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_fields_and_indexes() {
        assert_eq!(join("", "routes"), "routes");
        assert_eq!(join("routes", "[2]"), "routes[2]");
        assert_eq!(join("routes[2]", "paths"), "routes[2].paths");
        assert_eq!(join("routes[2]", ""), "routes[2]");
        let mut issues = Issues::default();
        issues.push("", "top");
        issues.push("a.b", "bad");
        let lines: Vec<String> = issues.0.iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["top", "a.b: bad"]);
    }
}
