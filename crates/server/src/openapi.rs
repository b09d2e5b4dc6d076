//! The OpenAPI document for `/v1/openapi.json`, generated from the handlers' annotations.

use utoipa::OpenApi;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "voicetk",
        description = "Telephony event gateway speaking the Salesforce Voice Toolkit event model (CONTRACT.md §4)."
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
struct ApiDoc;

/// Builds the document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
