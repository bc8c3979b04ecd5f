//! Java `.properties` files, as Kafka Connect's `connect-distributed.properties` is
//! written: `key=value`, `key: value` or `key value`, `#` and `!` comments, a trailing
//! backslash continuing a line, and `\t`, `\n`, `\uXXXX`-style escapes.

use super::ConfigMap;

/// A line of a properties file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for PropertiesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for PropertiesError {}

/// Parses a properties file's text; a key given twice keeps its last value, as Java's
/// `Properties.load` does.
pub fn parse_properties(text: &str) -> Result<ConfigMap, PropertiesError> {
    let mut props = ConfigMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let first = line.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // A logical line ends at a line whose backslashes at the end are even.
        let mut logical = String::from(first);
        while ends_in_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let at_line = |message| PropertiesError {
            line: index + 1,
            message,
        };
        props.insert(
            unescape(key).map_err(at_line)?,
            unescape(value).map_err(at_line)?,
        );
    }
    Ok(props)
}

fn ends_in_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or whitespace; the separator and the
/// whitespace around it are not part of the value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..at], line[at + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[at..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&line[..at], rest.trim_start());
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("\\u{hex} is not a \\uXXXX escape"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(props: &ConfigMap, key: &str) -> Option<String> {
        props.get(key).cloned()
    }

    #[test]
    fn reads_kafka_connects_worker_file_shapes() {
        let props = parse_properties(
            "# Kafka Connect worker\n\
             bootstrap.servers=localhost:9092\n\
             group.id : connect-cluster\n\
             ! another comment\n\
             key.converter org.apache.kafka.connect.json.JsonConverter\n\
             \n\
             listeners=http://127.0.0.1:8083\n\
             empty=\n\
             config.storage.topic=connect-\\\n    configs\n\
             path=C\\:\\\\data\\tdir\n\
             snow=\\u2603\n\
             group.id=last-wins\n",
        )
        .expect("parses");
        assert_eq!(
            get(&props, "bootstrap.servers").as_deref(),
            Some("localhost:9092")
        );
        assert_eq!(get(&props, "group.id").as_deref(), Some("last-wins"));
        assert_eq!(
            get(&props, "key.converter").as_deref(),
            Some("org.apache.kafka.connect.json.JsonConverter")
        );
        assert_eq!(
            get(&props, "listeners").as_deref(),
            Some("http://127.0.0.1:8083")
        );
        assert_eq!(get(&props, "empty").as_deref(), Some(""));
        assert_eq!(
            get(&props, "config.storage.topic").as_deref(),
            Some("connect-configs")
        );
        assert_eq!(get(&props, "path").as_deref(), Some("C:\\data\tdir"));
        assert_eq!(get(&props, "snow").as_deref(), Some("\u{2603}"));
        assert_eq!(props.len(), 8);
    }

    #[test]
    fn a_bad_escape_names_its_line() {
        let err = parse_properties("a=1\nb=\\uZZ\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("\\uXXXX"), "{err}");
    }

    #[test]
    fn an_escaped_separator_stays_in_the_key() {
        let props = parse_properties("a\\=b=c\nd\\ e f\n").expect("parses");
        assert_eq!(get(&props, "a=b").as_deref(), Some("c"));
        assert_eq!(get(&props, "d e").as_deref(), Some("f"));
    }
}
