//! Budget URLs: `redis://[user:password@]host[:port]/KEY[?db=N]`.

use crate::error::UrlError;

/// A shared budget's location: the Redis server to connect to and the bucket's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetUrl {
    /// What the `redis` crate connects to: `redis://[user:password@]host:port/db`.
    pub connection: String,
    /// The bucket's key (percent-decoded).
    pub key: String,
}

impl std::str::FromStr for BudgetUrl {
    type Err = UrlError;

    /// ```
    /// let b: paceline_redis::BudgetUrl = "redis://127.0.0.1:6400/github-token-1?db=2".parse()?;
    /// assert_eq!(b.connection, "redis://127.0.0.1:6400/2");
    /// assert_eq!(b.key, "github-token-1");
    /// # Ok::<(), paceline_redis::UrlError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(s).map_err(|e| UrlError::Invalid(e.to_string()))?;
        if url.scheme() != "redis" {
            return Err(UrlError::Scheme(url.scheme().to_owned()));
        }
        // Percent-decoded as a form value, a literal `+` kept.
        let raw = url.path().trim_start_matches('/').replace('+', "%2B");
        let key = url::form_urlencoded::parse(format!("k={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if key.is_empty() {
            return Err(UrlError::NoKey);
        }
        let mut db = 0u32;
        for (name, value) in url.query_pairs() {
            if name == "db" {
                db = value
                    .parse()
                    .map_err(|_| UrlError::Db(value.into_owned()))?;
            }
        }
        let mut connection = url.clone();
        connection.set_query(None);
        connection.set_fragment(None);
        connection.set_path(&db.to_string());
        Ok(BudgetUrl {
            connection: connection.to_string(),
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let b: BudgetUrl = "redis://u:p%40ss@example.com/a%2Fb".parse().unwrap();
        assert_eq!(b.connection, "redis://u:p%40ss@example.com/0");
        assert_eq!(b.key, "a/b");
        assert_eq!("redis://h:1/".parse::<BudgetUrl>(), Err(UrlError::NoKey));
        assert!(matches!(
            "http://h/k".parse::<BudgetUrl>(),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            "redis://h/k?db=x".parse::<BudgetUrl>(),
            Err(UrlError::Db(_))
        ));
        assert!(matches!(
            "not a url".parse::<BudgetUrl>(),
            Err(UrlError::Invalid(_))
        ));
    }
}
