//! The one mapping from domain and storage failures to Cognito's wire exceptions.

use idpool_core::DomainError;
use idpool_store::StoreError;
use idpool_wire::{IdpException as E, WireError};

pub type ApiResult<T> = Result<T, WireError>;

pub fn from_domain(e: DomainError) -> WireError {
    let (code, msg) = match e {
        DomainError::InvalidParameter(m) => (E::InvalidParameterException, m),
        DomainError::InvalidPassword(m) => (E::InvalidPasswordException, m),
        DomainError::NotAuthorized(m) => (E::NotAuthorizedException, m),
        DomainError::ResourceNotFound(m) => (E::ResourceNotFoundException, m),
        DomainError::UserNotFound(m) => (E::UserNotFoundException, m),
        DomainError::UserNotConfirmed(m) => (E::UserNotConfirmedException, m),
        DomainError::UsernameExists(m) => (E::UsernameExistsException, m),
        DomainError::AliasExists(m) => (E::AliasExistsException, m),
        DomainError::CodeMismatch(m) => (E::CodeMismatchException, m),
        DomainError::ExpiredCode(m) => (E::ExpiredCodeException, m),
        DomainError::TooManyFailedAttempts(m) => (E::TooManyFailedAttemptsException, m),
        DomainError::PasswordResetRequired(m) => (E::PasswordResetRequiredException, m),
        DomainError::LimitExceeded(m) => (E::LimitExceededException, m),
        DomainError::InvalidUserPoolConfiguration(m) => {
            (E::InvalidUserPoolConfigurationException, m)
        }
        DomainError::UnsupportedOperation(m) => (E::UnsupportedOperationException, m),
        DomainError::Internal(m) => {
            tracing::error!(error = %m, "internal error");
            (
                E::InternalErrorException,
                "An internal error occurred.".to_string(),
            )
        }
    };
    WireError::idp(code, msg)
}

pub fn from_store(e: StoreError) -> WireError {
    match e {
        StoreError::Conflict(m) => {
            tracing::warn!(conflict = %m, "unexpected storage conflict");
            WireError::idp(
                E::ConcurrentModificationException,
                "The resource was modified concurrently; retry.",
            )
        }
        StoreError::Backend(m) => {
            // The backend's text may name tables or hosts: log it, never send it.
            tracing::error!(error = %m, "storage failure");
            WireError::idp(E::InternalErrorException, "An internal error occurred.")
        }
    }
}

/// `?` on domain and store results inside handlers.
pub trait OrWire<T> {
    fn wire(self) -> ApiResult<T>;
}

impl<T> OrWire<T> for Result<T, DomainError> {
    fn wire(self) -> ApiResult<T> {
        self.map_err(from_domain)
    }
}

impl<T> OrWire<T> for Result<T, StoreError> {
    fn wire(self) -> ApiResult<T> {
        self.map_err(from_store)
    }
}

/// Answers `from` as `to`, message kept: for the operations whose model names a missing
/// thing differently from the shared lookup that found it missing (an SDK can only
/// name the exceptions an operation declares).
pub fn declared_as(e: WireError, from: E, to: E) -> WireError {
    if e.code == idpool_wire::ErrorCode::Idp(from) {
        WireError::idp(to, e.message)
    } else {
        e
    }
}
