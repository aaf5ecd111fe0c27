//! What the policies are told about the request, as the webhook and the author kit build it.

use super::review::{operation_name, Request};
use crate::policy::{ObjectText, RequestInfo};

/// The request part of a policy's input: who asks for what, and the object as sent (`null`
/// when the request has none).
pub fn request_info(req: &Request) -> RequestInfo {
    let object = match &req.object {
        Some(object) => object.text().clone(),
        None => ObjectText::from_value(&serde_json::Value::Null),
    };
    RequestInfo {
        uid: req.uid.clone(),
        group: req.kind.group.clone(),
        kind: req.kind.kind.clone(),
        sub_resource: req.sub_resource.clone(),
        operation: operation_name(&req.operation).to_owned(),
        namespace: req.namespace.clone(),
        name: req.name.clone(),
        user_info: req.user_info.clone(),
        dry_run: req.dry_run,
        object,
    }
}
