//! Page -> [`Record`]: the one place that decides what a record says.

use url::Url;

use crate::frontier::Entry;
use crate::parse::ParsedPage;
use crate::record::Record;

/// The fields every record of `entry` has, before anything is fetched.
pub(crate) fn base_record(entry: &Entry) -> Record {
    Record::new(entry.url.as_str(), entry.depth, entry.parent.as_deref())
}

/// Copy what parsing found into `record`; return the links to follow.
pub(crate) fn apply_page(record: &mut Record, page: ParsedPage, keep_links: bool) -> Vec<Url> {
    record.title = page.title;
    record.description = page.description;
    record.lang = page.lang;
    record.canonical = page.canonical.map(String::from);
    record.fields = page.fields;
    record.text = page.text;
    record.links_count = page.links.len();
    if keep_links {
        record.links = Some(page.links.iter().map(|u| u.to_string()).collect());
    }
    page.links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_kept_only_when_asked() {
        let entry = Entry::seed("http://a.test/".parse().unwrap());
        let page = ParsedPage {
            title: Some("T".into()),
            links: vec!["http://a.test/x".parse().unwrap()],
            ..ParsedPage::default()
        };
        let mut r = base_record(&entry);
        let links = apply_page(&mut r, page.clone(), false);
        assert_eq!((r.links_count, r.links.as_ref()), (1, None));
        assert_eq!(links.len(), 1);
        let mut r = base_record(&entry);
        apply_page(&mut r, page, true);
        assert_eq!(r.links.unwrap(), vec!["http://a.test/x".to_string()]);
        assert_eq!(r.title.as_deref(), Some("T"));
    }
}
