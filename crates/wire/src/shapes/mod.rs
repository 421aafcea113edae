//! Request/response structs. Generated from the botocore model (`tools/gen_wire.py`), one
//! file per service: the model shares shapes across action groups, so splitting them by
//! group would duplicate types that clients see as one.

pub mod cognito_identity;
pub mod cognito_idp;
pub mod cognito_sync;
