//! The URL scheme of our DFC resources, as Open Food Network derives it from an id:
//! `{base}/api/dfc/enterprises/{enterprise}/supplied_products/{id}`, `.../catalog_items/{id}`,
//! `.../offers/{id}`, `.../orders/{id}`. One product row has the same id in all three.

/// Builds the IRIs of this platform's resources.
#[derive(Clone, Debug)]
pub struct Urls {
    base: String,
}

impl Urls {
    pub fn new(base_url: &str) -> Urls {
        Urls { base: base_url.trim_end_matches('/').to_owned() }
    }

    pub fn enterprise(&self, enterprise: &str) -> String {
        format!("{}/api/dfc/enterprises/{enterprise}", self.base)
    }

    pub fn supplied_products(&self, enterprise: &str) -> String {
        format!("{}/supplied_products", self.enterprise(enterprise))
    }

    pub fn supplied_product(&self, enterprise: &str, id: i64) -> String {
        format!("{}/supplied_products/{id}", self.enterprise(enterprise))
    }

    pub fn catalog_item(&self, enterprise: &str, id: i64) -> String {
        format!("{}/catalog_items/{id}", self.enterprise(enterprise))
    }

    pub fn offer(&self, enterprise: &str, id: i64) -> String {
        format!("{}/offers/{id}", self.enterprise(enterprise))
    }

    pub fn orders(&self, enterprise: &str) -> String {
        format!("{}/orders", self.enterprise(enterprise))
    }

    pub fn order(&self, enterprise: &str, id: i64) -> String {
        format!("{}/orders/{id}", self.enterprise(enterprise))
    }

    pub fn order_line(&self, enterprise: &str, order: i64, line: i64) -> String {
        format!("{}/orders/{order}/order_lines/{line}", self.enterprise(enterprise))
    }

    pub fn transformation(&self, enterprise: &str, pack: i64) -> String {
        format!("{}/supplied_products/{pack}/transformation", self.enterprise(enterprise))
    }
}

/// A resource of one of our enterprises that a peer's payload refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalResource {
    SuppliedProduct(i64),
    CatalogItem(i64),
    Offer(i64),
}

/// Recognises an IRI naming one of `enterprise`'s products, catalog items or offers. Only the path
/// is compared: traders reach us under different host names (a proxy, `localhost`, `127.0.0.1`).
pub fn parse_local_resource(iri: &str, enterprise: &str) -> Option<LocalResource> {
    let path = iri.split_once("://").map_or(iri, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let mut segments = path.trim_matches('/').split('/');
    loop {
        let segment = segments.next()?;
        if segment == "dfc" {
            break;
        }
    }
    if !segments.next()?.eq_ignore_ascii_case("enterprises") || segments.next()? != enterprise {
        return None;
    }
    let kind = segments.next()?;
    let id: i64 = segments.next()?.parse().ok()?;
    if segments.next().is_some() {
        return None;
    }
    match kind {
        "supplied_products" | "SuppliedProducts" => Some(LocalResource::SuppliedProduct(id)),
        "catalog_items" | "CatalogItems" => Some(LocalResource::CatalogItem(id)),
        "offers" | "Offers" => Some(LocalResource::Offer(id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_our_resources_whatever_the_host() {
        let urls = Urls::new("http://127.0.0.1:8080/");
        assert_eq!(urls.offer("farm", 7), "http://127.0.0.1:8080/api/dfc/enterprises/farm/offers/7");
        for (iri, expected) in [
            ("http://127.0.0.1:8080/api/dfc/enterprises/farm/offers/7", Some(LocalResource::Offer(7))),
            (
                "https://shop.example/api/dfc/enterprises/farm/supplied_products/12",
                Some(LocalResource::SuppliedProduct(12)),
            ),
            (
                "https://shop.example/prefix/api/dfc/Enterprises/farm/CatalogItems/3",
                Some(LocalResource::CatalogItem(3)),
            ),
            ("https://shop.example/api/dfc/enterprises/other/offers/7", None),
            ("https://shop.example/api/dfc/enterprises/farm/offers/x", None),
            ("https://shop.example/api/dfc/enterprises/farm/offers/7/extra", None),
            ("_:b1", None),
            ("", None),
        ] {
            assert_eq!(parse_local_resource(iri, "farm"), expected, "{iri}");
        }
    }
}
