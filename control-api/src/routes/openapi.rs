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
        "paths": paths(),
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "biscuit" }
            },
            "schemas": schemas()
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
        "/auth/token": {
            "post": {
                "summary": "OAuth 2.0 token endpoint (RFC 6749)",
                "security": [],
                "requestBody": {
                    "required": true,
                    "content": { "application/x-www-form-urlencoded": { "schema": { "$ref": "#/components/schemas/TokenRequest" } } }
                },
                "responses": {
                    "200": json_response("A new session", "TokenResponse"),
                    "400": json_response("RFC 6749 error: `invalid_request`, `invalid_grant`, `unsupported_grant_type`", "OAuthError")
                }
            }
        },
        "/users/me": {
            "get": {
                "summary": "The authenticated user",
                "responses": { "200": json_response("The account", "User"), "401": unauthorized }
            }
        },
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
        "OAuthError": {
            "type": "object", "required": ["error"],
            "properties": {
                "error": { "type": "string", "enum": ["invalid_request", "invalid_grant", "unsupported_grant_type"] },
                "error_description": { "type": "string" },
                "code": { "type": "string" },
                "message": { "type": "string" }
            }
        },
        "TokenRequest": {
            "type": "object", "required": ["grant_type"],
            "properties": {
                "grant_type": { "type": "string", "enum": ["password", "refresh_token"] },
                "username": { "type": "string", "description": "E-mail (password grant)" },
                "password": { "type": "string", "format": "password" },
                "refresh_token": { "type": "string" }
            }
        },
        "TokenResponse": {
            "type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token"],
            "properties": {
                "access_token": { "type": "string" },
                "token_type": { "const": "Bearer" },
                "expires_in": { "type": "integer" },
                "refresh_token": { "type": "string" }
            }
        },
        "Role": { "type": "string", "enum": ["admin", "uploader", "viewer"] },
        "User": {
            "type": "object", "required": ["id", "email", "role", "created_at"],
            "properties": {
                "id": { "type": "string", "format": "uuid" },
                "email": { "type": "string", "format": "email" },
                "role": { "$ref": "#/components/schemas/Role" },
                "created_at": { "type": "string", "format": "date-time" }
            }
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
