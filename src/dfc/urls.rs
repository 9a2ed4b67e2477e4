//! The URL schemes of DFC resources. Platforms derive URLs from ids (Open Food Network finds a
//! producer's orders by replacing `/SuppliedProducts` in a product's id with `/Orders`), so the
//! scheme is part of the wire, not a detail: a [`Profile`] is one platform's way of naming things,
//! and the one place where such differences live.
//!
//! - [`Profile::Ofn`], Open Food Network's: `{base}/api/dfc/enterprises/{e}/supplied_products/{id}`,
//!   `.../catalog_items/{id}`, `.../offers/{id}`, `.../orders/{id}/order_lines/{line}`.
//! - [`Profile::Shopify`], the FDC Shopify apps': `{base}/api/dfc/Enterprises/{e}/SuppliedProducts/{id}`,
//!   `.../CatalogItems/{id}`, `.../Offers/{id}`, `.../Orders/{id}/orderLines/{line}`.
//!
//! One product row has the same id in its SuppliedProduct, CatalogItem and Offer. A retail
//! product's first pack is published under the ids Open Food Network's offer broker looks up:
//! `{retail product}/AsPlannedTransformation`, `.../AsPlannedConsumptionFlow`, `.../AsPlannedProductionFlow`.

use serde::Deserialize;

/// How a platform names its DFC resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum Profile {
    /// Open Food Network's snake_case paths (also orderhub's own default).
    #[default]
    #[serde(rename = "ofn", alias = "snake_case")]
    Ofn,
    /// The FDC Shopify apps' PascalCase paths.
    #[serde(rename = "shopify", alias = "PascalCase")]
    Shopify,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Ofn, Profile::Shopify];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Ofn => "ofn",
            Profile::Shopify => "shopify",
        }
    }

    pub fn parse(text: &str) -> Option<Profile> {
        match text {
            "ofn" | "snake_case" => Some(Profile::Ofn),
            "shopify" | "PascalCase" => Some(Profile::Shopify),
            _ => None,
        }
    }

    fn segment(self, resource: Segment) -> &'static str {
        match (self, resource) {
            (Profile::Ofn, Segment::Enterprises) => "enterprises",
            (Profile::Ofn, Segment::SuppliedProducts) => "supplied_products",
            (Profile::Ofn, Segment::CatalogItems) => "catalog_items",
            (Profile::Ofn, Segment::Offers) => "offers",
            (Profile::Ofn, Segment::Orders) => "orders",
            (Profile::Ofn, Segment::OrderLines) => "order_lines",
            (Profile::Shopify, Segment::Enterprises) => "Enterprises",
            (Profile::Shopify, Segment::SuppliedProducts) => "SuppliedProducts",
            (Profile::Shopify, Segment::CatalogItems) => "CatalogItems",
            (Profile::Shopify, Segment::Offers) => "Offers",
            (Profile::Shopify, Segment::Orders) => "Orders",
            // As the Shopify app names them; Open Food Network names the lines it adds
            // `{order}/OrderLines/{count + 1}`, which must never be the id of another line.
            (Profile::Shopify, Segment::OrderLines) => "orderLines",
        }
    }
}

#[derive(Clone, Copy)]
enum Segment {
    Enterprises,
    SuppliedProducts,
    CatalogItems,
    Offers,
    Orders,
    OrderLines,
}

/// Builds the IRIs of one platform's resources, in one profile.
#[derive(Clone, Debug)]
pub struct Urls {
    base: String,
    profile: Profile,
}

impl Urls {
    pub fn new(base_url: &str) -> Urls {
        Urls { base: base_url.trim_end_matches('/').to_owned(), profile: Profile::default() }
    }

    /// The same platform's resources named the way `profile` names them.
    pub fn in_profile(&self, profile: Profile) -> Urls {
        Urls { base: self.base.clone(), profile }
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    fn under(&self, enterprise: &str, segment: Segment) -> String {
        format!("{}/{}", self.enterprise(enterprise), self.profile.segment(segment))
    }

    pub fn enterprise(&self, enterprise: &str) -> String {
        format!("{}/api/dfc/{}/{enterprise}", self.base, self.profile.segment(Segment::Enterprises))
    }

    pub fn supplied_products(&self, enterprise: &str) -> String {
        self.under(enterprise, Segment::SuppliedProducts)
    }

    pub fn supplied_product(&self, enterprise: &str, id: i64) -> String {
        format!("{}/{id}", self.under(enterprise, Segment::SuppliedProducts))
    }

    /// The listing of the whole catalogue: Open Food Network lists its catalog items (it has no
    /// supplied products index), the Shopify apps their supplied products. orderhub serves both.
    pub fn catalogue(&self, enterprise: &str) -> String {
        match self.profile {
            Profile::Ofn => self.catalog_items(enterprise),
            Profile::Shopify => self.supplied_products(enterprise),
        }
    }

    pub fn catalog_items(&self, enterprise: &str) -> String {
        self.under(enterprise, Segment::CatalogItems)
    }

    pub fn catalog_item(&self, enterprise: &str, id: i64) -> String {
        format!("{}/{id}", self.catalog_items(enterprise))
    }

    pub fn offers(&self, enterprise: &str) -> String {
        self.under(enterprise, Segment::Offers)
    }

    pub fn offer(&self, enterprise: &str, id: i64) -> String {
        format!("{}/{id}", self.offers(enterprise))
    }

    pub fn orders(&self, enterprise: &str) -> String {
        self.under(enterprise, Segment::Orders)
    }

    pub fn order(&self, enterprise: &str, id: i64) -> String {
        format!("{}/{id}", self.orders(enterprise))
    }

    pub fn order_line(&self, enterprise: &str, order: i64, line: i64) -> String {
        format!("{}/{}/{line}", self.order(enterprise, order), self.profile.segment(Segment::OrderLines))
    }

    /// The planned transformation (and its two flows) of a pack, named after the product it
    /// holds when it is that product's first pack (`owner`), as Open Food Network looks it up.
    pub fn transformation(&self, enterprise: &str, owner: i64) -> String {
        format!("{}/AsPlannedTransformation", self.supplied_product(enterprise, owner))
    }

    pub fn consumption_flow(&self, enterprise: &str, owner: i64) -> String {
        format!("{}/AsPlannedConsumptionFlow", self.supplied_product(enterprise, owner))
    }

    pub fn production_flow(&self, enterprise: &str, owner: i64) -> String {
        format!("{}/AsPlannedProductionFlow", self.supplied_product(enterprise, owner))
    }

    /// Where a new line of an order goes before the producer names it: `{order}/OrderLines/{n}`,
    /// as Open Food Network names them (also under a placeholder order id).
    pub fn placeholder_line(order_iri: &str, n: usize) -> String {
        format!("{}/OrderLines/{n}", order_iri.trim_end_matches('#').trim_end_matches('/'))
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
    // The Shopify apps also name a product's item and offer under it (`.../SuppliedProducts/7/Offer`).
    let nested = segments.next();
    if segments.next().is_some() {
        return None;
    }
    match (kind, nested) {
        ("supplied_products" | "SuppliedProducts", None) => Some(LocalResource::SuppliedProduct(id)),
        ("catalog_items" | "CatalogItems", None) | ("supplied_products" | "SuppliedProducts", Some("CatalogItem")) => {
            Some(LocalResource::CatalogItem(id))
        }
        ("offers" | "Offers", None) | ("supplied_products" | "SuppliedProducts", Some("Offer")) => {
            Some(LocalResource::Offer(id))
        }
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
        let shopify = urls.in_profile(Profile::Shopify);
        assert_eq!(shopify.offer("farm", 7), "http://127.0.0.1:8080/api/dfc/Enterprises/farm/Offers/7");
        assert_eq!(
            shopify.order_line("farm", 3, 9),
            "http://127.0.0.1:8080/api/dfc/Enterprises/farm/Orders/3/orderLines/9"
        );
        assert_eq!(
            urls.order_line("farm", 3, 9),
            "http://127.0.0.1:8080/api/dfc/enterprises/farm/orders/3/order_lines/9"
        );
        for profile in Profile::ALL {
            let urls = urls.in_profile(profile);
            assert_eq!(parse_local_resource(&urls.offer("farm", 7), "farm"), Some(LocalResource::Offer(7)));
            assert_eq!(
                parse_local_resource(&urls.supplied_product("farm", 7), "farm"),
                Some(LocalResource::SuppliedProduct(7))
            );
            assert_eq!(
                parse_local_resource(&urls.catalog_item("farm", 7), "farm"),
                Some(LocalResource::CatalogItem(7))
            );
        }
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
            ("https://shop.example/api/dfc/Enterprises/farm/SuppliedProducts/7/Offer", Some(LocalResource::Offer(7))),
            (
                "https://shop.example/api/dfc/Enterprises/farm/SuppliedProducts/7/CatalogItem",
                Some(LocalResource::CatalogItem(7)),
            ),
            ("https://shop.example/api/dfc/Enterprises/farm/SuppliedProducts/7/AsPlannedProductionFlow", None),
            ("_:b1", None),
            ("", None),
        ] {
            assert_eq!(parse_local_resource(iri, "farm"), expected, "{iri}");
        }
    }
}
