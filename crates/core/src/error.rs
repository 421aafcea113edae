//! Domain failures. Each names what the client must be told, not which library failed;
//! `server/src/api/error.rs` maps them to Cognito's exceptions in one place.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    UserNotFound(String),
    #[error("{0}")]
    UserNotConfirmed(String),
    #[error("{0}")]
    UsernameExists(String),
    #[error("{0}")]
    AliasExists(String),
    #[error("{0}")]
    CodeMismatch(String),
    #[error("{0}")]
    ExpiredCode(String),
    #[error("{0}")]
    TooManyFailedAttempts(String),
    #[error("{0}")]
    PasswordResetRequired(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidUserPoolConfiguration(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    Internal(String),
}
