//! Reading stack files as layered TOML documents while remembering where every value came
//! from, so any later error (type, unknown key, validation) can name the file, line and column.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a value was written: a stack file position or a `--var` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    Var(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Origin::Var(text) => write!(f, "--var {text}"),
        }
    }
}

/// The stack's opt-outs (`[[opt_out]]`), which layers add to instead of replacing.
const OPT_OUT: &str = "opt_out";

/// A path into the document: table keys and array indexes.
pub type KeyPath = Vec<String>;

pub fn dotted(path: &[String]) -> String {
    path.join(".")
}

/// Merged document plus the origin of every key and value in it.
#[derive(Debug, Default, Clone)]
pub struct Layered {
    pub value: Value,
    origins: HashMap<KeyPath, Origin>,
}

impl Layered {
    pub fn new() -> Self {
        Layered {
            value: Value::Object(Map::new()),
            origins: HashMap::new(),
        }
    }

    /// The origin of `path`, or of its closest ancestor that has one.
    pub fn origin_of(&self, path: &[String]) -> Option<&Origin> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.origins.get(&path[..n]))
    }

    /// Where a problem with the document as a whole (a missing top-level section) is reported.
    pub fn set_root_origin(&mut self, origin: Origin) {
        self.origins.insert(Vec::new(), origin);
    }

    /// Lays `layer` over what is there: tables merge key by key, anything else replaces.
    pub fn overlay(&mut self, layer: Parsed) {
        merge(&mut self.value, layer.value);
        self.origins.extend(layer.origins);
    }

    /// `overlay` for a stack file over the files it extends: the opt-outs accumulate, so a
    /// stack extending another adds its reasons to the base's (replacing them would drop the
    /// base's reasons without a word). `--var opt_out=[...]` still replaces them all.
    pub fn overlay_file(&mut self, mut layer: Parsed) {
        let base = self.value.get(OPT_OUT).and_then(Value::as_array).cloned();
        if let (Some(mut all), Some(Value::Array(more))) = (base, layer.value.get_mut(OPT_OUT)) {
            let shift = all.len();
            all.append(more);
            *more = all;
            layer.origins = layer
                .origins
                .into_iter()
                .map(|(mut path, origin)| {
                    if path.first().map(String::as_str) == Some(OPT_OUT) {
                        if let Some(i) = path.get(1).and_then(|i| i.parse::<usize>().ok()) {
                            path[1] = (i + shift).to_string();
                        }
                    }
                    (path, origin)
                })
                .collect();
        }
        self.overlay(layer);
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, other) => *slot = other,
    }
}

/// One parsed layer.
pub struct Parsed {
    pub value: Value,
    pub origins: HashMap<KeyPath, Origin>,
}

/// A syntax error, already located.
#[derive(Debug)]
pub struct SyntaxError {
    pub origin: Origin,
    pub message: String,
}

fn position(text: &str, offset: usize) -> (usize, usize) {
    // A parser's offset inside a multi-byte character must not panic: count from its start.
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or(before.chars().count() + 1);
    (line, column)
}

/// Parses TOML text. `origin_for` turns a byte offset into an origin.
fn parse_with(text: &str, origin_for: &dyn Fn(usize) -> Origin) -> Result<Parsed, SyntaxError> {
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        SyntaxError {
            origin: origin_for(offset),
            message: format!("invalid TOML: {}", e.message().trim()),
        }
    })?;
    let mut origins = HashMap::new();
    let mut path = Vec::new();
    let value = table_to_json(doc.as_table(), &mut path, &mut origins, origin_for);
    Ok(Parsed { value, origins })
}

/// The origin of byte `offset` of `text`, read from `path`.
pub fn file_origin(path: &Path, text: &str, offset: usize) -> Origin {
    let (line, column) = position(text, offset);
    Origin::File {
        path: path.to_path_buf(),
        line,
        column,
    }
}

/// Stack files are TOML, so UTF-8: the first byte that is not is located like any other error.
pub fn decode_file(path: &Path, bytes: Vec<u8>) -> Result<String, SyntaxError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The valid prefix is text, so its lines and columns can be counted.
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        SyntaxError {
            origin: file_origin(path, prefix, valid),
            message: format!(
                "the file is not UTF-8 text (byte 0x{:02x} here)",
                bytes[valid]
            ),
        }
    })
}

pub fn parse_file(path: &Path, text: &str) -> Result<Parsed, SyntaxError> {
    parse_with(text, &|offset| file_origin(path, text, offset))
}

/// Parses `--var key=value` settings as one layer. A value that is not valid TOML is taken as a
/// string, so `--var network.cidr=10.1.0.0/16` works without quotes.
pub fn parse_vars(vars: &[String]) -> Result<Parsed, SyntaxError> {
    let mut value = Value::Object(Map::new());
    let mut origins = HashMap::new();
    for var in vars {
        let origin = Origin::Var(var.clone());
        let Some((key, raw)) = var.split_once('=') else {
            return Err(SyntaxError {
                origin,
                message: "expected KEY=VALUE, e.g. tiers.web.max_size=6".into(),
            });
        };
        let key = key.trim();
        let valid_key = !key.is_empty()
            && key.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !valid_key {
            return Err(SyntaxError {
                origin,
                message: format!("`{key}` is not a dotted key such as tiers.web.max_size"),
            });
        }
        let literal = match toml_edit::Document::parse(format!("v = {raw}")) {
            Ok(doc) => doc.get("v").and_then(|i| i.as_value()).cloned(),
            Err(_) => None,
        };
        let leaf = match literal {
            Some(v) => value_to_json(&v, &mut Vec::new(), &mut HashMap::new(), &|_| {
                origin.clone()
            }),
            None => Value::String(raw.to_string()),
        };
        let parts: Vec<String> = key.split('.').map(str::to_string).collect();
        let mut slot = &mut value;
        for (i, part) in parts.iter().enumerate() {
            origins.insert(parts[..=i].to_vec(), origin.clone());
            let obj = match slot {
                Value::Object(map) => map,
                _ => {
                    return Err(SyntaxError {
                        origin,
                        message: format!("`{key}` conflicts with another --var"),
                    })
                }
            };
            if i + 1 == parts.len() {
                obj.insert(part.clone(), leaf.clone());
                break;
            }
            slot = obj
                .entry(part.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    Ok(Parsed { value, origins })
}

fn table_to_json(
    table: &toml_edit::Table,
    path: &mut KeyPath,
    origins: &mut HashMap<KeyPath, Origin>,
    origin_for: &dyn Fn(usize) -> Origin,
) -> Value {
    let mut map = Map::new();
    for (key, item) in table.iter() {
        path.push(key.to_string());
        let span = item
            .span()
            .or_else(|| table.key(key).and_then(|k| k.span()));
        if let Some(span) = span {
            origins.insert(path.clone(), origin_for(span.start));
        }
        let value = match item {
            toml_edit::Item::None => Value::Null,
            toml_edit::Item::Value(v) => value_to_json(v, path, origins, origin_for),
            toml_edit::Item::Table(t) => table_to_json(t, path, origins, origin_for),
            toml_edit::Item::ArrayOfTables(arr) => {
                let mut items = Vec::new();
                for (i, t) in arr.iter().enumerate() {
                    path.push(i.to_string());
                    if let Some(span) = t.span() {
                        origins.insert(path.clone(), origin_for(span.start));
                    }
                    items.push(table_to_json(t, path, origins, origin_for));
                    path.pop();
                }
                Value::Array(items)
            }
        };
        map.insert(key.to_string(), value);
        path.pop();
    }
    Value::Object(map)
}

fn value_to_json(
    value: &toml_edit::Value,
    path: &mut KeyPath,
    origins: &mut HashMap<KeyPath, Origin>,
    origin_for: &dyn Fn(usize) -> Origin,
) -> Value {
    use toml_edit::Value as T;
    match value {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(arr) => Value::Array(
            arr.iter()
                .enumerate()
                .map(|(i, v)| {
                    path.push(i.to_string());
                    if let Some(span) = v.span() {
                        origins.insert(path.clone(), origin_for(span.start));
                    }
                    let out = value_to_json(v, path, origins, origin_for);
                    path.pop();
                    out
                })
                .collect(),
        ),
        T::InlineTable(t) => {
            let mut map = Map::new();
            for (key, v) in t.iter() {
                path.push(key.to_string());
                if let Some(span) = v.span().or_else(|| t.key(key).and_then(|k| k.span())) {
                    origins.insert(path.clone(), origin_for(span.start));
                }
                map.insert(key.to_string(), value_to_json(v, path, origins, origin_for));
                path.pop();
            }
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_point_at_values() {
        let text = "[a]\nb = 1\n\n[a.c]\nd = \"x\"\n";
        let parsed = parse_file(Path::new("s.toml"), text).unwrap();
        let mut layered = Layered::new();
        layered.overlay(parsed);
        let o = layered.origin_of(&["a".into(), "c".into(), "d".into()]);
        assert_eq!(o.unwrap().to_string(), "s.toml:5:5");
        let o = layered.origin_of(&["a".into(), "b".into()]);
        assert_eq!(o.unwrap().to_string(), "s.toml:2:5");
    }

    #[test]
    fn later_layers_win_and_tables_merge() {
        let base = parse_file(Path::new("a.toml"), "[t]\nx = 1\ny = 2\n").unwrap();
        let top = parse_file(Path::new("b.toml"), "[t]\ny = 3\n").unwrap();
        let mut layered = Layered::new();
        layered.overlay(base);
        layered.overlay(top);
        assert_eq!(layered.value["t"]["x"], 1);
        assert_eq!(layered.value["t"]["y"], 3);
        let o = layered.origin_of(&["t".into(), "y".into()]).unwrap();
        assert!(o.to_string().starts_with("b.toml:2"));
    }

    #[test]
    fn opt_outs_accumulate_and_keep_their_lines() {
        let base = "[[opt_out]]\ncontrol = \"A.1\"\nreason = \"a\"\n";
        let top = "x = 1\n[[opt_out]]\ncontrol = \"B.2\"\nreason = \"b\"\n";
        let mut layered = Layered::new();
        layered.overlay_file(parse_file(Path::new("a.toml"), base).unwrap());
        layered.overlay_file(parse_file(Path::new("b.toml"), top).unwrap());
        let controls: Vec<&str> = layered.value["opt_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["control"].as_str().unwrap())
            .collect();
        assert_eq!(controls, ["A.1", "B.2"]);
        let at = |i: &str| {
            layered
                .origin_of(&["opt_out".into(), i.into(), "control".into()])
                .unwrap()
                .to_string()
        };
        assert!(at("0").starts_with("a.toml:2"), "{}", at("0"));
        assert!(at("1").starts_with("b.toml:3"), "{}", at("1"));
    }

    #[test]
    fn vars_parse_as_toml_or_string() {
        let parsed = parse_vars(&[
            "tiers.web.max_size=6".to_string(),
            "network.cidr=10.1.0.0/16".to_string(),
        ])
        .unwrap();
        assert_eq!(parsed.value["tiers"]["web"]["max_size"], 6);
        assert_eq!(parsed.value["network"]["cidr"], "10.1.0.0/16");
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse_file(Path::new("s.toml"), "[a]\nb = = 1\n")
            .err()
            .unwrap();
        assert!(err.origin.to_string().starts_with("s.toml:2:"));
    }

    #[test]
    fn positions_inside_a_character_do_not_panic() {
        assert_eq!(position("a\nxé", 4), (2, 2));
        assert_eq!(position("a\nxé", 99), (2, 3));
    }

    #[test]
    fn bad_var_is_refused() {
        assert!(parse_vars(&["novalue".to_string()]).is_err());
        assert!(parse_vars(&["a..b=1".to_string()]).is_err());
    }
}
