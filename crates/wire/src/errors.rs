//! Wire errors: what a client sees as `__type`, `x-amzn-ErrorType` and `message`.
//! Changing a name or status here breaks clients: SDKs dispatch on `__type`.

use crate::cognito_identity_exceptions::IdentityException;
use crate::cognito_sync_exceptions::SyncException;
use crate::exceptions::IdpException;

/// Errors of the AWS request framework itself (signature, protocol, routing), which
/// every AWS JSON service returns but no service model lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameworkError {
    SerializationException,
    UnknownOperationException,
    UnrecognizedClientException,
    InvalidSignatureException,
    IncompleteSignatureException,
    MissingAuthenticationTokenException,
    RequestEntityTooLargeException,
    /// Temporary credentials past their expiration.
    ExpiredTokenException,
    /// A request that breaks the model's constraints, in services whose framework says
    /// so this way (cognito-identity; cognito-idp says InvalidParameterException).
    ValidationException,
    /// A real Cognito operation that idpool does not implement yet. Not an AWS name:
    /// clients see a clear, stable code instead of a misleading Cognito exception.
    NotImplementedException,
}

impl FrameworkError {
    pub fn name(self) -> &'static str {
        match self {
            FrameworkError::SerializationException => "SerializationException",
            FrameworkError::UnknownOperationException => "UnknownOperationException",
            FrameworkError::UnrecognizedClientException => "UnrecognizedClientException",
            FrameworkError::InvalidSignatureException => "InvalidSignatureException",
            FrameworkError::IncompleteSignatureException => "IncompleteSignatureException",
            FrameworkError::MissingAuthenticationTokenException => {
                "MissingAuthenticationTokenException"
            }
            FrameworkError::RequestEntityTooLargeException => "RequestEntityTooLargeException",
            FrameworkError::ExpiredTokenException => "ExpiredTokenException",
            FrameworkError::ValidationException => "ValidationException",
            FrameworkError::NotImplementedException => "NotImplementedException",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            FrameworkError::MissingAuthenticationTokenException => 403,
            FrameworkError::RequestEntityTooLargeException => 413,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Idp(IdpException),
    Identity(IdentityException),
    Sync(SyncException),
    Framework(FrameworkError),
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Idp(e) => e.name(),
            ErrorCode::Identity(e) => e.name(),
            ErrorCode::Sync(e) => e.name(),
            ErrorCode::Framework(e) => e.name(),
        }
    }
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Idp(e) => e.status(),
            ErrorCode::Identity(e) => e.status(),
            ErrorCode::Sync(e) => e.status(),
            ErrorCode::Framework(e) => e.status(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn idp(e: IdpException, message: impl Into<String>) -> Self {
        WireError {
            code: ErrorCode::Idp(e),
            message: message.into(),
        }
    }
    pub fn identity(e: IdentityException, message: impl Into<String>) -> Self {
        WireError {
            code: ErrorCode::Identity(e),
            message: message.into(),
        }
    }
    pub fn sync(e: SyncException, message: impl Into<String>) -> Self {
        WireError {
            code: ErrorCode::Sync(e),
            message: message.into(),
        }
    }
    pub fn framework(e: FrameworkError, message: impl Into<String>) -> Self {
        WireError {
            code: ErrorCode::Framework(e),
            message: message.into(),
        }
    }
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::idp(IdpException::InvalidParameterException, message)
    }
    /// The AWS JSON 1.1 error body.
    pub fn body(&self) -> String {
        serde_json::json!({ "__type": self.code.name(), "message": self.message }).to_string()
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for WireError {}
