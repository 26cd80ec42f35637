//! Kong's request-transformer value templates without Lua: text with `$(...)` references to
//! the client's request (`headers.x`, `query_params["y"]`, `uri_captures.z`, `uri_captures[0]`),
//! each optionally `or 'default'`. Anything else Kong would run as Lua is refused at load.

/// Which part of the request a reference reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Header,
    Query,
    Capture,
}

/// What a `$(...)` names.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Name(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Ref {
        source: Source,
        key: Key,
        default: Option<String>,
    },
}

/// A compiled value template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Piece>);

/// What templates read from the request, as it arrived.
pub trait Values {
    /// A header's (first) value, by lower-case name.
    fn header(&self, name: &str) -> Option<String>;
    /// A query argument's (first) value; a bare argument reads `true`.
    fn query(&self, name: &str) -> Option<String>;
    /// A capture of the matched route path (`0`: the whole match).
    fn capture(&self, key: &Key) -> Option<String>;
}

impl Template {
    /// Compiles a value; the error says what is not supported.
    pub fn parse(raw: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = raw;
        while let Some(at) = rest.find("$(") {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_string()));
            }
            let inner = &rest[at + 2..];
            let end =
                closing(inner).ok_or_else(|| format!("value '{raw}' has an unclosed '$('"))?;
            pieces.push(reference(inner[..end].trim()).ok_or_else(|| {
                format!(
                    "template '$({})' is not supported by Skyport (Lua is not run): use \
                     headers.<name>, query_params.<name> or uri_captures.<name|n>, optionally \
                     followed by or '<default>'",
                    &inner[..end]
                )
            })?);
            rest = &inner[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }

    /// The literal text, when the value has no reference.
    pub fn literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// The value for one request (a missing reference renders empty, as Kong's templates).
    pub fn render(&self, values: &dyn Values) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref {
                    source,
                    key,
                    default,
                } => {
                    let v = match (source, key) {
                        (Source::Header, Key::Name(n)) => values.header(n),
                        (Source::Query, Key::Name(n)) => values.query(n),
                        (Source::Capture, k) => values.capture(k),
                        _ => None,
                    };
                    if let Some(v) = v.or_else(|| default.clone()) {
                        out.push_str(&v);
                    }
                }
            }
        }
        out
    }
}

/// Where the `)` closing a `$(` is, skipping quoted strings and nested parentheses.
fn closing(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return Some(i),
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `source.name`, `source["name"]` or `source[n]`, then an optional `or '<default>'`; or a
/// quoted literal (Kong's way to write `$(` itself: `$('$(x)')`).
fn reference(expr: &str) -> Option<Piece> {
    if let Some(text) = quoted(expr) {
        return Some(Piece::Text(text));
    }
    let (head, default) = match expr.split_once(" or ") {
        Some((h, d)) => (h.trim(), Some(quoted(d.trim())?)),
        None => (expr, None),
    };
    let (source, rest) = [
        ("headers", Source::Header),
        ("query_params", Source::Query),
        ("uri_captures", Source::Capture),
    ]
    .into_iter()
    .find_map(|(name, s)| head.strip_prefix(name).map(|r| (s, r)))?;
    let key = if let Some(field) = rest.strip_prefix('.') {
        let ok = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then(|| Key::Name(field.to_string()))?
    } else {
        let inner = rest.strip_prefix('[')?.strip_suffix(']')?.trim();
        match quoted(inner) {
            Some(name) => Key::Name(name),
            None => Key::Index(inner.parse().ok()?),
        }
    };
    let key = match (&source, key) {
        (Source::Header, Key::Name(n)) => Key::Name(n.to_ascii_lowercase()),
        (Source::Header | Source::Query, Key::Index(_)) => return None,
        (_, k) => k,
    };
    Some(Piece::Ref {
        source,
        key,
        default,
    })
}

/// The text of a `'...'` or `"..."` literal without escapes.
fn quoted(s: &str) -> Option<String> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains(q) && !inner.contains('\\')).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Req;
    impl Values for Req {
        fn header(&self, name: &str) -> Option<String> {
            (name == "x-user" || name == "x_user").then(|| "ann".to_string())
        }
        fn query(&self, name: &str) -> Option<String> {
            (name == "q").then(|| "20".to_string())
        }
        fn capture(&self, key: &Key) -> Option<String> {
            match key {
                Key::Name(n) if n == "id" => Some("7".into()),
                Key::Index(0) => Some("/users/7".into()),
                _ => None,
            }
        }
    }

    fn render(raw: &str) -> String {
        Template::parse(raw).expect("supported").render(&Req)
    }

    #[test]
    fn references_render_from_the_request() {
        assert_eq!(render("plain"), "plain");
        assert_eq!(render("u:$(headers['X-User'])"), "u:ann");
        assert_eq!(render("$(query_params.q)-$(uri_captures.id)"), "20-7");
        assert_eq!(render("/r$(uri_captures[0])"), "/r/users/7");
        assert_eq!(render("$(uri_captures.nope or 'default1')"), "default1");
        assert_eq!(render("[$(headers.missing)]"), "[]");
        assert_eq!(render("$('$(uri_captures.id)')"), "$(uri_captures.id)");
        assert_eq!(Template::parse("x").expect("literal").literal(), Some("x"));
    }

    #[test]
    fn lua_is_refused() {
        for raw in [
            "$(10 * uri_captures.user1)",
            "$(ERROR())",
            "$(type(headers['a']))",
            "$(shared.x)",
            "$(headers.x",
        ] {
            assert!(Template::parse(raw).is_err(), "{raw}");
        }
    }
}
