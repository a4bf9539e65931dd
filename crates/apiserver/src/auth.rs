//! Authentication and authorization stages of the request chain.
//!
//! Both are traits so x509 client certificates, ServiceAccount tokens, RBAC
//! and the Node authorizer can be added as further implementations and
//! chained (first to decide wins) without changing the server.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;

use crate::request::RequestInfo;
use crate::ServerError;

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        UserInfo {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

/// The outcome of one authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthnResult {
    /// This authenticator does not recognise the credentials; ask the next.
    NoOpinion,
    Authenticated(UserInfo),
    /// Credentials were presented and are wrong: answer 401.
    Rejected,
}

/// Turns request credentials into a user.
#[async_trait]
pub trait Authenticator: Send + Sync {
    async fn authenticate(&self, headers: &http::HeaderMap) -> AuthnResult;
}

/// `--token-auth-file`: a CSV of `token,user,uid,"group1,group2"`.
pub struct TokenFileAuthenticator {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFileAuthenticator {
    pub fn load(path: &Path) -> Result<Self, ServerError> {
        let data = std::fs::read_to_string(path).map_err(|e| ServerError::TokenFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&data).map_err(|reason| ServerError::TokenFile {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn parse(data: &str) -> Result<Self, String> {
        let mut tokens = HashMap::new();
        for (n, line) in data.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 {
                return Err(format!(
                    "line {}: expected token,user,uid[,\"groups\"], got {} fields",
                    n + 1,
                    fields.len()
                ));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            tokens.insert(
                fields[0].clone(),
                UserInfo {
                    name: fields[1].clone(),
                    uid: fields[2].clone(),
                    groups,
                },
            );
        }
        Ok(TokenFileAuthenticator { tokens })
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

#[async_trait]
impl Authenticator for TokenFileAuthenticator {
    async fn authenticate(&self, headers: &http::HeaderMap) -> AuthnResult {
        let Some(v) = headers.get(http::header::AUTHORIZATION) else {
            return AuthnResult::NoOpinion;
        };
        let Ok(v) = v.to_str() else {
            return AuthnResult::Rejected;
        };
        let Some(token) = v.strip_prefix("Bearer ").map(str::trim) else {
            return AuthnResult::NoOpinion;
        };
        match self.tokens.get(token) {
            Some(u) => {
                let mut u = u.clone();
                if !u.groups.iter().any(|g| g == "system:authenticated") {
                    u.groups.push("system:authenticated".into());
                }
                AuthnResult::Authenticated(u)
            }
            None => AuthnResult::Rejected,
        }
    }
}

/// An authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
    NoOpinion,
}

/// Decides whether a user may perform a request.
#[async_trait]
pub trait Authorizer: Send + Sync {
    async fn authorize(&self, user: &UserInfo, req: &RequestInfo) -> Decision;
}

/// `--authorization-mode=AlwaysAllow`.
pub struct AlwaysAllow;

#[async_trait]
impl Authorizer for AlwaysAllow {
    async fn authorize(&self, _user: &UserInfo, _req: &RequestInfo) -> Decision {
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_csv() {
        let a = TokenFileAuthenticator::parse(
            "# comment\nabc,admin,admin-uid,\"system:masters,dev\"\nxyz,bob,2\n",
        )
        .unwrap();
        let admin = &a.tokens["abc"];
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.groups, vec!["system:masters", "dev"]);
        assert!(a.tokens["xyz"].groups.is_empty());
        assert!(TokenFileAuthenticator::parse("onlytoken\n").is_err());
    }

    #[tokio::test]
    async fn bearer() {
        let a = TokenFileAuthenticator::parse("abc,admin,1\n").unwrap();
        let mut h = http::HeaderMap::new();
        assert_eq!(a.authenticate(&h).await, AuthnResult::NoOpinion);
        h.insert(http::header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(a.authenticate(&h).await, AuthnResult::Rejected);
        h.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(
            matches!(a.authenticate(&h).await, AuthnResult::Authenticated(u) if u.name == "admin")
        );
    }
}
