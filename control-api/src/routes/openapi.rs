//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the routes
//! this crate serves, written by hand and built once.

use actix_web::HttpResponse;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub(crate) async fn document() -> HttpResponse {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(build))
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn video_id_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "schema": { "type": "string", "format": "uuid" }
    })
}

fn build() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Goflix control API",
            "version": "1",
            "description": "Accounts, OAuth tokens and videos. Errors are `{\"code\", \"message\"}` with stable codes."
        },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": merged(merged(paths(), identity_paths()), notification_paths()),
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "biscuit" },
                "client": { "type": "http", "scheme": "basic", "description": "A registered service client" }
            },
            "schemas": merged(merged(schemas(), identity_schemas()), notification_schemas())
        }
    })
}

fn paths() -> Value {
    let unauthorized = error_response("Missing, invalid or expired bearer token (`missing_token`, `invalid_token`, `token_expired`)");
    let forbidden =
        error_response("The caller's role or ownership does not allow this (`forbidden`)");
    let not_found = error_response("No such video, or not visible to the caller (`not_found`)");
    let bad_request = error_response("Malformed request; `code` says what is wrong");
    json!({
        "/videos": {
            "get": {
                "summary": "List videos, newest first (admins: all; uploaders: their own; viewers: public ones)",
                "parameters": [
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
                    { "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "default": 0 } }
                ],
                "responses": {
                    "200": json_response("One page", "VideoPage"),
                    "400": bad_request,
                    "401": unauthorized
                }
            },
            "post": {
                "summary": "Upload a master (admin or uploader); it is queued for transcoding",
                "requestBody": {
                    "required": true,
                    "content": { "multipart/form-data": { "schema": { "$ref": "#/components/schemas/Upload" } } }
                },
                "responses": {
                    "202": json_response("Stored and queued", "Accepted"),
                    "400": error_response("`missing_title`, `invalid_title`, `missing_file`, `invalid_visibility`, `duplicate_field`, `unknown_field`, `field_too_large`, `invalid_multipart`"),
                    "401": unauthorized,
                    "403": forbidden,
                    "413": error_response("Larger than GOFLIX_MAX_UPLOAD_BYTES (`payload_too_large`); nothing is stored"),
                    "415": error_response("Not multipart/form-data (`unsupported_media_type`)")
                }
            }
        },
        "/videos/{id}": {
            "parameters": [video_id_parameter()],
            "get": {
                "summary": "One video (owner or admin; anyone authenticated when public or unlisted)",
                "responses": { "200": json_response("The video", "Video"), "401": unauthorized, "404": not_found }
            },
            "patch": {
                "summary": "Change title or visibility (owner or admin)",
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VideoPatch" } } }
                },
                "responses": {
                    "200": json_response("The changed video", "Video"),
                    "400": bad_request, "401": unauthorized, "403": forbidden, "404": not_found
                }
            },
            "delete": {
                "summary": "Delete the video, its master and its media (owner or admin)",
                "responses": {
                    "204": { "description": "Deleted" },
                    "401": unauthorized, "403": forbidden, "404": not_found
                }
            }
        },
        "/videos/{id}/playback-token": {
            "parameters": [video_id_parameter()],
            "post": {
                "summary": "A token that lets players fetch this video from the origin (owner or admin)",
                "responses": {
                    "200": json_response("The token", "PlaybackToken"),
                    "401": unauthorized, "403": forbidden, "404": not_found
                }
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": { "200": { "description": "OpenAPI 3.1 document", "content": { "application/json": {} } } }
            }
        }
    })
}

fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object", "required": ["code", "message"],
            "properties": { "code": { "type": "string" }, "message": { "type": "string" } }
        },
        "Visibility": { "type": "string", "enum": ["public", "unlisted", "private"] },
        "VideoState": { "type": "string", "enum": ["uploaded", "queued", "processing", "ready", "failed"] },
        "Upload": {
            "type": "object", "required": ["title", "file"],
            "properties": {
                "title": { "type": "string", "maxLength": 200 },
                "visibility": { "$ref": "#/components/schemas/Visibility" },
                "file": { "type": "string", "contentMediaType": "application/octet-stream" }
            }
        },
        "Accepted": {
            "type": "object", "required": ["id", "state"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "state": { "const": "queued" }
            }
        },
        "Rendition": {
            "type": "object", "required": ["name", "kind", "codecs", "bandwidth", "average_bandwidth"],
            "properties": {
                "name": { "type": "string" },
                "kind": { "type": "string", "enum": ["video", "audio"] },
                "width": { "type": ["integer", "null"] },
                "height": { "type": ["integer", "null"] },
                "frame_rate": { "type": ["number", "null"] },
                "codecs": { "type": "string" },
                "bandwidth": { "type": "integer" },
                "average_bandwidth": { "type": "integer" }
            }
        },
        "Video": {
            "type": "object",
            "required": ["id", "title", "visibility", "state", "progress", "error", "duration_s", "renditions", "playback", "created_at", "updated_at"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "title": { "type": "string" },
                "visibility": { "$ref": "#/components/schemas/Visibility" },
                "state": { "$ref": "#/components/schemas/VideoState" },
                "progress": { "type": "number", "minimum": 0, "maximum": 1 },
                "error": {
                    "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Error" }]
                },
                "duration_s": { "type": ["number", "null"] },
                "renditions": { "type": "array", "items": { "$ref": "#/components/schemas/Rendition" } },
                "playback": {
                    "oneOf": [
                        { "type": "null" },
                        {
                            "type": "object", "required": ["hls", "dash"],
                            "properties": { "hls": { "type": "string" }, "dash": { "type": "string" } }
                        }
                    ]
                },
                "created_at": { "type": "string", "format": "date-time" },
                "updated_at": { "type": "string", "format": "date-time" }
            }
        },
        "VideoPage": {
            "type": "object", "required": ["items", "next_offset"],
            "properties": {
                "items": { "type": "array", "items": { "$ref": "#/components/schemas/Video" } },
                "next_offset": { "type": ["integer", "null"] }
            }
        },
        "VideoPatch": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "title": { "type": "string", "maxLength": 200 },
                "visibility": { "$ref": "#/components/schemas/Visibility" }
            }
        },
        "PlaybackToken": {
            "type": "object", "required": ["token", "expires_at"],
            "properties": {
                "token": { "type": "string" },
                "expires_at": { "type": "string", "format": "date-time" }
            }
        }
    })
}

/// `base` with the members of `more` added (both objects).
fn merged(mut base: Value, more: Value) -> Value {
    if let (Some(base), Value::Object(more)) = (base.as_object_mut(), more) {
        base.extend(more);
    }
    base
}

fn form_body(schema: &str) -> Value {
    json!({
        "required": true,
        "content": { "application/x-www-form-urlencoded": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn json_body(schema: &str) -> Value {
    json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn id_parameter(description: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// Accounts, OAuth endpoints, service clients and upload tokens.
fn identity_paths() -> Value {
    let unauthorized = error_response("Missing, invalid, expired or revoked bearer token (`missing_token`, `invalid_token`, `token_expired`, `token_revoked`)");
    let forbidden = error_response("The caller's role does not allow this (`forbidden`)");
    let bad_request = error_response("Malformed request; `code` says what is wrong");
    let rate_limited = error_response("Too many attempts (`rate_limited`); see `Retry-After`");
    let oauth_error = json_response("RFC 6749 error (`invalid_request`, `invalid_client`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`)", "OAuthError");
    let client_error = json_response(
        "Client authentication failed (`invalid_client`; `WWW-Authenticate: Basic`)",
        "OAuthError",
    );
    let user_not_found = error_response("No such user (`not_found`)");
    json!({
        "/auth/token": {
            "post": {
                "summary": "OAuth 2.0 token endpoint (RFC 6749): password, refresh_token (rotated; reuse revokes the family) and client_credentials (HTTP Basic or form credentials)",
                "security": [],
                "requestBody": form_body("TokenRequest"),
                "responses": {
                    "200": json_response("A new access token (and refresh token for users)", "TokenResponse"),
                    "400": oauth_error,
                    "401": client_error,
                    "429": rate_limited
                }
            }
        },
        "/auth/revoke": {
            "post": {
                "summary": "RFC 7009 revocation: a refresh token revokes its family; an access token is revoked with the family it came from. 200 even for unknown tokens",
                "security": [],
                "requestBody": form_body("TokenForm"),
                "responses": {
                    "200": { "description": "Revoked (or nothing to revoke)" },
                    "400": oauth_error,
                    "401": client_error
                }
            }
        },
        "/auth/introspect": {
            "post": {
                "summary": "RFC 7662 introspection, for registered clients (HTTP Basic) and admins (bearer)",
                "security": [{ "bearer": [] }, { "client": [] }],
                "requestBody": form_body("TokenForm"),
                "responses": {
                    "200": json_response("What the token is, or `{\"active\": false}`", "Introspection"),
                    "400": oauth_error,
                    "401": client_error,
                    "403": forbidden
                }
            }
        },
        "/auth/verify-email": {
            "post": {
                "summary": "Confirm an e-mail address with a mailed token (single use, expires after a day)",
                "security": [],
                "requestBody": json_body("AccountToken"),
                "responses": {
                    "204": { "description": "Verified" },
                    "400": error_response("Unknown, expired or used token (`invalid_token`) or malformed body")
                }
            }
        },
        "/auth/password-reset/request": {
            "post": {
                "summary": "Mail a password reset token; always 202, whether or not the address has an account",
                "security": [],
                "requestBody": json_body("ResetRequest"),
                "responses": {
                    "202": json_response("Accepted", "Message"),
                    "400": bad_request,
                    "429": rate_limited
                }
            }
        },
        "/auth/password-reset": {
            "post": {
                "summary": "Set a new password with a mailed reset token (single use, expires after an hour); ends every session of the account",
                "security": [],
                "requestBody": json_body("PasswordReset"),
                "responses": {
                    "204": { "description": "Password changed" },
                    "400": error_response("Unknown, expired or used token (`invalid_token`), `weak_password`, `invalid_password` or malformed body"),
                    "429": rate_limited
                }
            }
        },
        "/uploads/token": {
            "post": {
                "summary": "A token good for one `POST /videos` within ten minutes (uploader or admin), for browser direct uploads; it is spent when presented, even if that upload then fails",
                "responses": {
                    "200": json_response("The token", "UploadToken"),
                    "401": unauthorized,
                    "403": forbidden
                }
            }
        },
        "/users": {
            "get": {
                "summary": "List accounts in creation order (admin); keyset pagination: pass the previous page's `next_cursor` as `cursor`",
                "parameters": [
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } },
                    { "name": "cursor", "in": "query", "schema": { "type": "string", "format": "uuid" } }
                ],
                "responses": {
                    "200": json_response("One page", "UserPage"),
                    "400": bad_request, "401": unauthorized, "403": forbidden
                }
            },
            "post": {
                "summary": "Create an account (admin: any role, default viewer); without a bearer token and with GOFLIX_SIGNUP=open, anyone signs up as a viewer and is mailed a verification token",
                "security": [{ "bearer": [] }, {}],
                "requestBody": json_body("NewUser"),
                "responses": {
                    "201": json_response("Created", "User"),
                    "400": error_response("`invalid_email`, `weak_password`, `invalid_password`, `invalid_role` or malformed body"),
                    "401": unauthorized, "403": forbidden,
                    "409": error_response("The e-mail is taken (`email_taken`)"),
                    "429": rate_limited
                }
            }
        },
        "/users/me": {
            "get": {
                "summary": "The authenticated user (not for service clients)",
                "responses": { "200": json_response("The account", "User"), "401": unauthorized, "403": forbidden }
            }
        },
        "/users/me/verify-email/request": {
            "post": {
                "summary": "Mail the caller a new e-mail verification token",
                "responses": {
                    "202": json_response("Accepted", "Message"),
                    "401": unauthorized, "403": forbidden,
                    "409": error_response("Already verified (`already_verified`)")
                }
            }
        },
        "/users/{id}": {
            "parameters": [id_parameter("The user id")],
            "get": {
                "summary": "One account (admin)",
                "responses": { "200": json_response("The account", "User"), "401": unauthorized, "403": forbidden, "404": user_not_found }
            },
            "patch": {
                "summary": "Change role, e-mail, password or disabled (admin); a new role, password or disabling ends the account's sessions",
                "requestBody": json_body("UserPatch"),
                "responses": {
                    "200": json_response("The changed account", "User"),
                    "400": bad_request, "401": unauthorized, "403": forbidden, "404": user_not_found,
                    "409": error_response("`email_taken`, or `last_admin` (the change would leave no enabled admin)")
                }
            },
            "delete": {
                "summary": "Delete an account that owns no videos (admin)",
                "responses": {
                    "204": { "description": "Deleted" },
                    "401": unauthorized, "403": forbidden, "404": user_not_found,
                    "409": error_response("`user_has_videos` or `last_admin`")
                }
            }
        },
        "/clients": {
            "get": {
                "summary": "Registered service clients (admin)",
                "responses": { "200": json_response("The clients", "ClientList"), "401": unauthorized, "403": forbidden }
            },
            "post": {
                "summary": "Register a service client acting for the calling admin within its scopes (admin); the secret is shown only in this response",
                "requestBody": json_body("NewClient"),
                "responses": {
                    "201": json_response("Registered", "RegisteredClient"),
                    "400": error_response("`invalid_name`, `invalid_scope` or malformed body"),
                    "401": unauthorized, "403": forbidden
                }
            }
        },
        "/clients/{id}": {
            "parameters": [id_parameter("The client_id")],
            "delete": {
                "summary": "Delete a service client; its tokens stop working at once (admin)",
                "responses": {
                    "204": { "description": "Deleted" },
                    "401": unauthorized, "403": forbidden,
                    "404": error_response("No such client (`not_found`)")
                }
            }
        }
    })
}

fn identity_schemas() -> Value {
    json!({
        "OAuthError": {
            "type": "object", "required": ["error"],
            "properties": {
                "error": { "type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant", "invalid_scope", "unsupported_grant_type"] },
                "error_description": { "type": "string" },
                "code": { "type": "string" },
                "message": { "type": "string" }
            }
        },
        "TokenRequest": {
            "type": "object", "required": ["grant_type"],
            "properties": {
                "grant_type": { "type": "string", "enum": ["password", "refresh_token", "client_credentials"] },
                "username": { "type": "string", "description": "E-mail (password grant)" },
                "password": { "type": "string", "format": "password" },
                "refresh_token": { "type": "string" },
                "scope": { "type": "string", "description": "Space-separated scopes (client_credentials)" },
                "client_id": { "type": "string" },
                "client_secret": { "type": "string", "format": "password" }
            }
        },
        "TokenResponse": {
            "type": "object", "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": { "type": "string" },
                "token_type": { "const": "Bearer" },
                "expires_in": { "type": "integer" },
                "refresh_token": { "type": "string", "description": "Users only; single use" },
                "scope": { "type": "string", "description": "Service clients only" }
            }
        },
        "TokenForm": {
            "type": "object", "required": ["token"],
            "properties": {
                "token": { "type": "string" },
                "token_type_hint": { "type": "string", "enum": ["access_token", "refresh_token"] },
                "client_id": { "type": "string" },
                "client_secret": { "type": "string", "format": "password" }
            }
        },
        "Introspection": {
            "type": "object", "required": ["active"],
            "properties": {
                "active": { "type": "boolean" },
                "token_type": { "type": "string" },
                "sub": { "type": "string", "format": "uuid" },
                "role": { "$ref": "#/components/schemas/Role" },
                "client_id": { "type": "string" },
                "scope": { "type": "string" },
                "exp": { "type": "integer" },
                "iat": { "type": "integer" },
                "jti": { "type": ["string", "null"] },
                "goflix_kind": { "type": "string", "enum": ["access", "upload"] }
            }
        },
        "Role": { "type": "string", "enum": ["admin", "uploader", "viewer"] },
        "User": {
            "type": "object", "required": ["id", "email", "role", "email_verified", "disabled", "created_at"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "email": { "type": "string" },
                "role": { "$ref": "#/components/schemas/Role" },
                "email_verified": { "type": "boolean" },
                "disabled": { "type": "boolean" },
                "created_at": { "type": "string", "format": "date-time" }
            }
        },
        "UserPage": {
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {
                "items": { "type": "array", "items": { "$ref": "#/components/schemas/User" } },
                "next_cursor": { "type": ["string", "null"], "format": "uuid" }
            }
        },
        "NewUser": {
            "type": "object", "required": ["email", "password"], "additionalProperties": false,
            "properties": {
                "email": { "type": "string", "maxLength": 254 },
                "password": { "type": "string", "format": "password", "minLength": 8 },
                "role": { "$ref": "#/components/schemas/Role" }
            }
        },
        "UserPatch": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "role": { "$ref": "#/components/schemas/Role" },
                "email": { "type": "string", "maxLength": 254 },
                "password": { "type": "string", "format": "password", "minLength": 8 },
                "disabled": { "type": "boolean" }
            }
        },
        "AccountToken": {
            "type": "object", "required": ["token"], "additionalProperties": false,
            "properties": { "token": { "type": "string" } }
        },
        "ResetRequest": {
            "type": "object", "required": ["email"], "additionalProperties": false,
            "properties": { "email": { "type": "string" } }
        },
        "PasswordReset": {
            "type": "object", "required": ["token", "password"], "additionalProperties": false,
            "properties": {
                "token": { "type": "string" },
                "password": { "type": "string", "format": "password", "minLength": 8 }
            }
        },
        "Message": {
            "type": "object", "required": ["message"],
            "properties": { "message": { "type": "string" } }
        },
        "UploadToken": {
            "type": "object", "required": ["token", "expires_at", "expires_in"],
            "properties": {
                "token": { "type": "string" },
                "expires_at": { "type": "string", "format": "date-time" },
                "expires_in": { "type": "integer" }
            }
        },
        "Client": {
            "type": "object", "required": ["client_id", "name", "scope", "owner_id", "created_at"],
            "properties": {
                "client_id": { "type": "string" },
                "name": { "type": "string" },
                "scope": { "type": "string" },
                "owner_id": { "type": "string", "format": "uuid" },
                "created_at": { "type": "string", "format": "date-time" }
            }
        },
        "RegisteredClient": {
            "allOf": [
                { "$ref": "#/components/schemas/Client" },
                { "type": "object", "required": ["client_secret"], "properties": { "client_secret": { "type": "string" } } }
            ]
        },
        "ClientList": {
            "type": "object", "required": ["items"],
            "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Client" } } }
        },
        "NewClient": {
            "type": "object", "required": ["name", "scope"], "additionalProperties": false,
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                "scope": { "type": "string", "description": "Space-separated: videos:read, videos:write" }
            }
        }
    })
}

/// Webhooks, notification templates and notification preferences.
fn notification_paths() -> Value {
    let unauthorized = error_response("Missing, invalid, expired or revoked bearer token (`missing_token`, `invalid_token`, `token_expired`, `token_revoked`)");
    let forbidden = error_response("The caller's role does not allow this (`forbidden`)");
    let webhook_id = id_parameter("The webhook id");
    let template_name = json!({
        "name": "name", "in": "path", "required": true,
        "description": "`{event}.email.subject`, `{event}.email.text`, `{event}.email.html` or `{event}.sms.text`",
        "schema": { "type": "string" }
    });
    json!({
        "/webhooks": {
            "get": {
                "summary": "List webhooks (admin); secrets are never shown",
                "responses": { "200": json_response("The webhooks", "WebhookList"), "401": unauthorized, "403": forbidden }
            },
            "post": {
                "summary": "Register a webhook (admin). Each delivery is a JSON POST `{id, type, at, data}` with `Goflix-Event`, `Goflix-Delivery`, `Goflix-Timestamp` (Unix seconds) and `Goflix-Signature: v1=<hex HMAC-SHA256(secret, \"{timestamp}.{body}\")>`; non-2xx answers are retried with backoff. Internal addresses are refused unless GOFLIX_WEBHOOK_ALLOW_PRIVATE=true",
                "requestBody": json_body("NewWebhook"),
                "responses": {
                    "201": json_response("Registered; `secret` (generated when not given) is shown only here", "RegisteredWebhook"),
                    "400": error_response("`invalid_webhook_url`, `invalid_events`, `invalid_secret` or malformed body"),
                    "401": unauthorized, "403": forbidden,
                    "409": error_response("Too many webhooks (`too_many_webhooks`)")
                }
            }
        },
        "/webhooks/{id}": {
            "delete": {
                "summary": "Delete a webhook and its deliveries (admin)",
                "parameters": [webhook_id.clone()],
                "responses": {
                    "204": { "description": "Deleted" },
                    "401": unauthorized, "403": forbidden,
                    "404": error_response("No such webhook (`not_found`)")
                }
            }
        },
        "/webhooks/{id}/deliveries": {
            "get": {
                "summary": "The webhook's 50 latest deliveries with every attempt (admin)",
                "parameters": [webhook_id],
                "responses": {
                    "200": json_response("Deliveries, newest first", "DeliveryList"),
                    "401": unauthorized, "403": forbidden,
                    "404": error_response("No such webhook (`not_found`)")
                }
            }
        },
        "/notification-templates": {
            "get": {
                "summary": "Every notification template with the source in force (admin)",
                "responses": { "200": json_response("The templates", "TemplateList"), "401": unauthorized, "403": forbidden }
            }
        },
        "/notification-templates/{name}": {
            "get": {
                "summary": "One template (admin)",
                "parameters": [template_name.clone()],
                "responses": {
                    "200": json_response("The template", "Template"),
                    "401": unauthorized, "403": forbidden,
                    "404": error_response("No such template (`not_found`)")
                }
            },
            "put": {
                "summary": "Override a template (admin; minijinja, HTML-escaped in `.html` parts, undefined variables are errors)",
                "parameters": [template_name],
                "requestBody": json_body("TemplateSource"),
                "responses": {
                    "200": json_response("Saved", "Template"),
                    "400": error_response("Malformed body"),
                    "401": unauthorized, "403": forbidden,
                    "404": error_response("No such template (`not_found`)"),
                    "422": error_response("The source does not parse or render against the event's sample context, or is over 16 KiB (`invalid_template`)")
                }
            }
        },
        "/users/me/notification-preferences": {
            "get": {
                "summary": "The caller's notification channels per event and SMS phone number",
                "responses": {
                    "200": json_response("The preferences, defaults filled in", "NotificationPreferences"),
                    "401": unauthorized, "403": forbidden
                }
            },
            "put": {
                "summary": "Replace the caller's preferences; events or channels left out take their defaults (e-mail on, SMS off). Verification and password-reset e-mails are always sent",
                "requestBody": json_body("NotificationPreferences"),
                "responses": {
                    "200": json_response("Saved", "NotificationPreferences"),
                    "400": error_response("`invalid_phone`, `phone_required`, `invalid_preferences` or malformed body"),
                    "401": unauthorized, "403": forbidden
                }
            }
        }
    })
}

fn notification_schemas() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let maybe_time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "WebhookEvent": { "type": "string", "enum": ["video.ready", "video.failed"] },
        "Webhook": {
            "type": "object", "required": ["id", "url", "events", "created_at"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "url": { "type": "string" },
                "events": { "type": "array", "items": { "$ref": "#/components/schemas/WebhookEvent" } },
                "created_at": time
            }
        },
        "RegisteredWebhook": {
            "allOf": [
                { "$ref": "#/components/schemas/Webhook" },
                { "type": "object", "required": ["secret"], "properties": { "secret": { "type": "string" } } }
            ]
        },
        "NewWebhook": {
            "type": "object", "required": ["url", "events"], "additionalProperties": false,
            "properties": {
                "url": { "type": "string", "description": "http or https, at most 2048 bytes" },
                "secret": { "type": "string", "description": "16 to 256 printable ASCII characters; generated when absent" },
                "events": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/WebhookEvent" } }
            }
        },
        "WebhookList": {
            "type": "object", "required": ["items"],
            "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Webhook" } } }
        },
        "DeliveryAttempt": {
            "type": "object", "required": ["attempt", "status_code", "error", "started_at", "finished_at"],
            "properties": {
                "attempt": { "type": "integer", "minimum": 1 },
                "status_code": { "type": ["integer", "null"], "description": "The receiver's HTTP status, when it answered" },
                "error": { "type": ["string", "null"] },
                "started_at": time,
                "finished_at": time
            }
        },
        "Delivery": {
            "type": "object", "required": ["id", "event", "state", "created_at", "next_attempt_at", "attempts"],
            "properties": {
                "id": { "type": "string", "format": "uuid", "description": "Also sent as `Goflix-Delivery`" },
                "event": { "$ref": "#/components/schemas/WebhookEvent" },
                "state": { "type": "string", "enum": ["pending", "delivered", "dead"] },
                "created_at": time,
                "next_attempt_at": maybe_time,
                "attempts": { "type": "array", "items": { "$ref": "#/components/schemas/DeliveryAttempt" } }
            }
        },
        "DeliveryList": {
            "type": "object", "required": ["items"],
            "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Delivery" } } }
        },
        "Template": {
            "type": "object",
            "required": ["name", "event", "channel", "source", "default_source", "customized", "updated_at"],
            "properties": {
                "name": { "type": "string" },
                "event": { "type": "string" },
                "channel": { "type": "string", "enum": ["email", "sms"] },
                "source": { "type": "string" },
                "default_source": { "type": "string" },
                "customized": { "type": "boolean" },
                "updated_at": maybe_time
            }
        },
        "TemplateList": {
            "type": "object", "required": ["items"],
            "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Template" } } }
        },
        "TemplateSource": {
            "type": "object", "required": ["source"], "additionalProperties": false,
            "properties": { "source": { "type": "string" } }
        },
        "NotificationPreferences": {
            "type": "object", "required": ["phone", "events"], "additionalProperties": false,
            "properties": {
                "phone": { "type": ["string", "null"], "description": "E.164, like +14155550123" },
                "events": {
                    "type": "object",
                    "description": "`{event: {channel: on}}` for video.ready, video.failed (email, sms) and account.welcome (email)",
                    "additionalProperties": { "type": "object", "additionalProperties": { "type": "boolean" } }
                }
            }
        }
    })
}
