//! Paging shared by every listing: where a listing resumes, and cutting pages to fit one gRPC
//! response.

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::cognito::answers::TokenTrail;
use crate::cognito::page_limit;
use crate::cognito::records::Page;

/// gRPC's default message limit is 4 MiB and Baton never raises it; a page is cut well below,
/// leaving room for the page token and the envelope.
pub const RESPONSE_BUDGET_BYTES: usize = 3 * 1024 * 1024;

/// Where a listing resumes: the Cognito token of the page to fetch and how many of that page's
/// items an earlier response already carried (a page cut to fit the response budget). A cut
/// page is fetched again with the same limit, which Cognito answers with the same page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "t")]
    pub cognito_token: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero", rename = "s")]
    pub skip: u32,
    /// The Cognito page size the listing uses; 0 = not yet chosen.
    #[serde(default, skip_serializing_if = "is_zero", rename = "l")]
    pub limit: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Cursor {
    /// The start of a listing with the caller's page size (0 = Cognito's maximum).
    pub fn first(page_size: u32) -> Self {
        Self {
            limit: page_limit(page_size) as u32,
            ..Self::default()
        }
    }

    /// The Cognito page size to request, 1..=60.
    pub fn limit(&self) -> i32 {
        page_limit(self.limit)
    }
}

/// The Cognito pages one pass of a listing has moved to, so that a token that comes back ends
/// the listing with [`crate::cognito::CognitoError::RepeatedToken`] instead of looping. A cut
/// page resumed at an offset is the same page, not a new one.
#[derive(Debug, Default)]
pub struct ListingTrail(TokenTrail);

impl ListingTrail {
    pub fn follow(&mut self, next: &Cursor) -> Result<(), crate::cognito::CognitoError> {
        match &next.cognito_token {
            Some(token) if next.skip == 0 => self.0.follow(token),
            _ => Ok(()),
        }
    }
}

/// One page of Baton messages, and where the listing resumes (`None` = complete).
#[derive(Debug, PartialEq)]
pub struct PageResult<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> PageResult<T> {
    pub fn last(items: Vec<T>) -> Self {
        Self { items, next: None }
    }

    /// The same page with each item changed (the same cursor).
    pub fn map<U>(self, change: impl FnMut(T) -> U) -> PageResult<U> {
        PageResult {
            items: self.items.into_iter().map(change).collect(),
            next: self.next,
        }
    }
}

/// Turns a Cognito page fetched at `cursor` into Baton messages: drops what an earlier response
/// already carried, maps the rest, and stops before the response budget is exceeded.
pub fn fit_page<R, T: Message>(
    page: Page<R>,
    cursor: &Cursor,
    mut map: impl FnMut(&R) -> Option<T>,
) -> PageResult<T> {
    let mut items = Vec::new();
    let mut size = 0;
    for (index, record) in page.items.iter().enumerate().skip(cursor.skip as usize) {
        let Some(item) = map(record) else { continue };
        // Each repeated element costs its length plus a tag and a length prefix.
        let cost = item.encoded_len() + 8;
        if !items.is_empty() && size + cost > RESPONSE_BUDGET_BYTES {
            return PageResult {
                items,
                next: Some(Cursor {
                    cognito_token: cursor.cognito_token.clone(),
                    skip: index as u32,
                    limit: cursor.limit() as u32,
                }),
            };
        }
        size += cost;
        items.push(item);
    }
    PageResult {
        items,
        next: page.next_token.map(|token| Cursor {
            cognito_token: Some(token),
            skip: 0,
            limit: cursor.limit() as u32,
        }),
    }
}

/// One page of a listing held whole (resource types, a resource's entitlements), resumed at
/// `cursor.skip`: at most `page_size` items (0 = all), so that no page is larger than the
/// caller asked for.
pub fn held_page<T>(items: Vec<T>, cursor: &Cursor, page_size: u32) -> PageResult<T> {
    let start = (cursor.skip as usize).min(items.len());
    let end = match page_size {
        0 => items.len(),
        size => start.saturating_add(size as usize).min(items.len()),
    };
    let next = (end < items.len()).then(|| Cursor {
        skip: end as u32,
        ..Cursor::default()
    });
    PageResult {
        items: items.into_iter().skip(start).take(end - start).collect(),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::v2::ResourceId;

    #[test]
    fn held_listings_page_at_the_callers_page_size_and_resume_by_position() {
        let page = |cursor: &Cursor, size| held_page(vec![1, 2, 3, 4, 5], cursor, size);
        let all = page(&Cursor::default(), 0);
        assert_eq!((all.items, all.next), (vec![1, 2, 3, 4, 5], None));

        let first = page(&Cursor::default(), 2);
        assert_eq!(first.items, vec![1, 2]);
        let second = page(first.next.as_ref().unwrap(), 2);
        assert_eq!(second.items, vec![3, 4]);
        let last = page(second.next.as_ref().unwrap(), 2);
        assert_eq!((last.items, last.next), (vec![5], None));

        let exact = page(&Cursor::default(), 5);
        assert_eq!(exact.next, None, "a full last page has no next cursor");
        let resumed_bigger = page(
            &Cursor {
                skip: 3,
                ..Cursor::default()
            },
            0,
        );
        assert_eq!(resumed_bigger.items, vec![4, 5]);
        let past_the_end = page(
            &Cursor {
                skip: 9,
                ..Cursor::default()
            },
            2,
        );
        assert_eq!((past_the_end.items, past_the_end.next), (vec![], None));
    }

    fn big_id(n: usize) -> ResourceId {
        ResourceId {
            resource_type: "user".into(),
            resource: format!("{n}-{}", "x".repeat(400 * 1024)),
            baton_resource: false,
        }
    }

    #[test]
    fn pages_over_budget_are_cut_and_resume_where_they_stopped() {
        let page = Page {
            items: (0..20).collect::<Vec<usize>>(),
            next_token: Some("NEXT".to_string()),
        };
        let first = Cursor {
            cognito_token: Some("THIS".into()),
            skip: 0,
            limit: 20,
        };
        let out = fit_page(page.clone(), &first, |n| Some(big_id(*n)));
        assert_eq!(out.items.len(), 7, "7 x 400 KiB fit in 3 MiB");
        let resume = out.next.unwrap();
        assert_eq!(
            resume,
            Cursor {
                cognito_token: Some("THIS".into()),
                skip: 7,
                limit: 20
            }
        );

        let out = fit_page(page.clone(), &resume, |n| Some(big_id(*n)));
        assert!(out.items[0].resource.starts_with("7-"));
        let resume = out.next.unwrap();
        let out = fit_page(page, &resume, |n| Some(big_id(*n)));
        assert_eq!(out.items.len(), 6);
        assert_eq!(out.next.unwrap().cognito_token.as_deref(), Some("NEXT"));
    }

    #[test]
    fn the_last_page_has_no_next_cursor_and_filtered_records_are_dropped() {
        let page = Page {
            items: vec![1, 2, 3, 4],
            next_token: None,
        };
        let out = fit_page(page, &Cursor::first(0), |n| {
            (n % 2 == 0).then(|| big_id(*n))
        });
        assert_eq!(out.items.len(), 2);
        assert_eq!(out.next, None);
    }
}
