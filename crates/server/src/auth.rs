//! Bearer tokens, roles and agent scopes (CONTRACT.md §6).
//!
//! With no tokens configured (allowed only on a loopback address) every request acts as an
//! unscoped admin. With tokens, every request must present one: `Authorization: Bearer T`, or
//! `?access_token=T` for browser WebSocket and EventSource connections, which cannot set headers.
//! Tokens are compared in constant time, against every configured token, so timing reveals
//! neither which token matched nor how much of one did.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::config::TokenConfig;
use crate::error::ApiError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Post events (`POST /v1/events`), as a source does.
    Publish,
    /// Read events and call state (streams, history, `/v1/calls`).
    Subscribe,
    /// Act on calls (`/actions/...`, `POST /v1/calls`).
    Control,
    /// Everything, including `/metrics`.
    Admin,
}

impl Role {
    const fn bit(self) -> u8 {
        match self {
            Role::Publish => 1,
            Role::Subscribe => 2,
            Role::Control => 4,
            Role::Admin => 8,
        }
    }

    /// The name used in config files and error messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Publish => "publish",
            Role::Subscribe => "subscribe",
            Role::Control => "control",
            Role::Admin => "admin",
        }
    }
}

/// Who is asking: the roles of the presented token and its agent scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name, for logs.
    pub name: String,
    /// Bit set of [`Role`]s.
    roles: u8,
    /// When set, the principal sees and acts on this agent's calls only.
    pub agent: Option<String>,
}

impl Principal {
    /// The principal of an open (tokenless, loopback) gateway: an unscoped admin.
    pub fn open() -> Principal {
        Principal {
            name: "open".to_owned(),
            roles: Role::Admin.bit(),
            agent: None,
        }
    }

    /// Builds a principal with `roles`, scoped to `agent` when given.
    pub fn new(name: impl Into<String>, roles: &[Role], agent: Option<String>) -> Principal {
        Principal {
            name: name.into(),
            roles: roles.iter().fold(0, |acc, r| acc | r.bit()),
            agent,
        }
    }

    /// Whether the principal has `role` (admin has every role).
    pub fn has(&self, role: Role) -> bool {
        self.roles & (role.bit() | Role::Admin.bit()) != 0
    }

    /// Refuses with 403 unless the principal has `role`.
    ///
    /// # Errors
    /// [`ApiError`] 403 `forbidden` naming the missing role.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token ({}) lacks the {} role",
                self.name,
                role.as_str()
            )))
        }
    }

    /// Whether the principal may see a call or event that belongs to `agent`. An unscoped
    /// principal sees everything; a scoped one only its agent's (never agentless ones).
    pub fn can_see(&self, agent: Option<&str>) -> bool {
        match &self.agent {
            None => true,
            Some(mine) => agent == Some(mine.as_str()),
        }
    }
}

/// Checks presented tokens against the configured ones.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The configured tokens and the principals they stand for; empty means open.
    tokens: Vec<(Vec<u8>, Principal)>,
}

impl Authenticator {
    /// Builds from configuration. An empty list makes an open gateway.
    pub fn new(tokens: &[TokenConfig]) -> Authenticator {
        Authenticator {
            tokens: tokens
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let name = t.name.clone().unwrap_or_else(|| format!("token-{}", i + 1));
                    (
                        t.token.as_bytes().to_vec(),
                        Principal::new(name, &t.roles, t.agent.clone()),
                    )
                })
                .collect(),
        }
    }

    /// Whether no tokens are configured.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Resolves the presented token (if any) to a principal.
    ///
    /// # Errors
    /// [`ApiError`] 401 `unauthorized` when tokens are configured and none, or an unknown one,
    /// was presented.
    pub fn authenticate(&self, presented: Option<&str>) -> Result<Principal, ApiError> {
        if self.is_open() {
            return Ok(Principal::open());
        }
        let Some(presented) = presented else {
            return Err(ApiError::unauthorized(
                "a bearer token is required (Authorization: Bearer TOKEN, or ?access_token=TOKEN \
                 for WebSocket and EventSource)",
            ));
        };
        let presented = presented.as_bytes();
        // Compare with every token without stopping early.
        let mut found: Option<&Principal> = None;
        for (token, principal) in &self.tokens {
            if bool::from(token.as_slice().ct_eq(presented)) {
                found = Some(principal);
            }
        }
        found
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("unknown bearer token"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(&[
            TokenConfig {
                name: Some("alice".into()),
                token: "alice-token-0123456789".into(),
                roles: vec![Role::Subscribe, Role::Control],
                agent: Some("alice".into()),
            },
            TokenConfig {
                name: None,
                token: "source-token-0123456789".into(),
                roles: vec![Role::Publish],
                agent: None,
            },
        ])
    }

    #[test]
    fn tokens_resolve_to_their_principals() {
        let a = auth();
        let alice = a.authenticate(Some("alice-token-0123456789")).unwrap();
        assert_eq!(alice.agent.as_deref(), Some("alice"));
        assert!(alice.has(Role::Control) && !alice.has(Role::Publish));
        assert!(alice.require(Role::Publish).is_err());
        let src = a.authenticate(Some("source-token-0123456789")).unwrap();
        assert_eq!(src.name, "token-2");
        assert_eq!(a.authenticate(None).unwrap_err().status().as_u16(), 401);
        assert_eq!(
            a.authenticate(Some("alice-token-012345678"))
                .unwrap_err()
                .status()
                .as_u16(),
            401
        );
    }

    #[test]
    fn scopes() {
        let scoped = Principal::new("x", &[Role::Subscribe], Some("alice".into()));
        assert!(scoped.can_see(Some("alice")));
        assert!(!scoped.can_see(Some("bob")));
        assert!(!scoped.can_see(None));
        assert!(Principal::open().can_see(None));
        assert!(Principal::open().has(Role::Publish));
        assert!(Authenticator::new(&[]).authenticate(None).is_ok());
    }
}
