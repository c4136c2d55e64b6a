//! Unit tests of templates.rs.

use super::*;

#[test]
fn templates_and_catalogues_load_and_escape_html() {
    let t = Templates::load().unwrap();
    let html = t
        .page(
            "message",
            Lang::En,
            &minijinja::context! { title => "<b>x</b>", message => "a & b" },
        )
        .unwrap();
    assert!(html.contains("&lt;b&gt;x") && !html.contains("<b>"));
    assert!(html.contains("a &amp; b"));
    assert_eq!(t.t(Lang::It, "signup_button"), "Iscriviti");
}

/// `{"form": {"name": none}, "error": none, ...}`: every variable a template reads, with
/// every dotted path ending in `none`.
fn all_none(variables: std::collections::HashSet<String>) -> Value {
    fn insert(map: &mut BTreeMap<String, serde_json::Value>, path: &[&str]) {
        match path {
            [] => {}
            [last] => {
                map.entry((*last).to_owned())
                    .or_insert(serde_json::Value::Null);
            }
            [first, rest @ ..] => {
                let entry = map
                    .entry((*first).to_owned())
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if !entry.is_object() {
                    *entry = serde_json::Value::Object(Default::default());
                }
                let serde_json::Value::Object(inner) = entry else {
                    unreachable!()
                };
                let mut nested: BTreeMap<String, serde_json::Value> =
                    std::mem::take(inner).into_iter().collect();
                insert(&mut nested, rest);
                *inner = nested.into_iter().collect();
            }
        }
    }
    let mut map = BTreeMap::new();
    for v in &variables {
        insert(&mut map, &v.split('.').collect::<Vec<_>>());
    }
    Value::from_serialize(&map)
}

/// `html` without its style sheets and `style` attributes, whose `text-decoration:none`
/// is not a value a reader sees.
fn without_css(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    loop {
        let next = [("<style>", "</style>"), ("style=\"", "\"")]
            .iter()
            .filter_map(|(open, close)| rest.find(open).map(|at| (at, *open, *close)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, open, close)) = next else { break };
        out.push_str(&rest[..at]);
        let after = &rest[at + open.len()..];
        rest = after
            .find(close)
            .map_or("", |end| &after[end + close.len()..]);
    }
    out.push_str(rest);
    out
}

/// A reader never sees "None", "null" or "undefined" where an optional value is missing:
/// every template, in every language, with its variables left out and with each of them
/// (and each attribute it reads) set to none.
#[test]
fn empty_optional_values_render_as_nothing() {
    let t = Templates::load().unwrap();
    for (name, _) in FILES {
        let template = t.env.get_template(name).unwrap();
        let contexts = [
            Value::from_serialize(BTreeMap::<String, String>::new()),
            all_none(template.undeclared_variables(true)),
        ];
        for lang in [Lang::It, Lang::En] {
            for ctx in &contexts {
                let out = without_css(&t.render(name, lang, ctx).unwrap());
                let words: Vec<&str> = out
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| ["none", "null", "undefined"].contains(&w.to_lowercase().as_str()))
                    .collect();
                assert!(
                    words.is_empty(),
                    "{name} ({lang:?}) prints {words:?}: {out}"
                );
            }
        }
    }
}
