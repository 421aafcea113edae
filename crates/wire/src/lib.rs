//! idpool's client-facing contract. Nothing here does I/O: the server's edges use these
//! types to read requests and write responses exactly as Cognito's clients expect.

pub mod cognito_identity_exceptions;
pub mod cognito_identity_operations;
pub mod cognito_sync_exceptions;
pub mod cognito_sync_operations;
pub mod errors;
pub mod exceptions;
pub mod operations;
pub mod query;
pub mod rest;
pub mod shapes;
pub mod sigv4;
pub mod validate;

pub use cognito_identity_exceptions::IdentityException;
pub use cognito_identity_operations::IdentityOperation;
pub use cognito_sync_exceptions::SyncException;
pub use cognito_sync_operations::SyncOperation;
pub use errors::{ErrorCode, FrameworkError, WireError};
pub use exceptions::IdpException;
pub use operations::{AuthKind, IdpOperation};
