//! Reading, listing, changing and deleting videos, and playback tokens.

use crate::helpers::{error_code, spawn_app};
use goflix_shared::token::{Role, TokenVerifier};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn listed_titles(app: &crate::helpers::TestApp, token: &str) -> Vec<String> {
    let response = app.get(Some(token), "/videos").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listings_and_reads_follow_roles_and_visibility() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.user_token(Role::Uploader).await;
    let bob = app.user_token(Role::Uploader).await;
    let viewer = app.user_token(Role::Viewer).await;
    app.upload(&alice, "alice public", "public", vec![1]).await;
    let unlisted = app
        .upload(&alice, "alice unlisted", "unlisted", vec![1])
        .await;
    let private = app
        .upload(&alice, "alice private", "private", vec![1])
        .await;
    app.upload(&bob, "bob public", "public", vec![1]).await;

    assert_eq!(
        listed_titles(&app, &admin).await,
        [
            "bob public",
            "alice private",
            "alice unlisted",
            "alice public"
        ]
    );
    assert_eq!(
        listed_titles(&app, &alice).await,
        ["alice private", "alice unlisted", "alice public"]
    );
    assert_eq!(
        listed_titles(&app, &viewer).await,
        ["bob public", "alice public"]
    );

    // Unlisted: readable by anyone with the id; private: owner and admin only.
    assert_eq!(
        app.video(&viewer, unlisted).await["title"],
        "alice unlisted"
    );
    for token in [&bob, &viewer] {
        let response = app.get(Some(token), &format!("/videos/{private}")).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found"
        );
    }
    assert_eq!(app.video(&admin, private).await["title"], "alice private");

    let page: Value = app
        .get(Some(&admin), "/videos?limit=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["next_offset"], 3);
    let page: Value = app
        .get(Some(&admin), "/videos?limit=3&offset=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["title"], "alice public");
    assert!(page["next_offset"].is_null());
    let response = app.get(Some(&admin), "/videos?limit=lots").await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_query"
    );
    let response = app.get(Some(&admin), "/videos/not-a-uuid").await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn only_owners_and_admins_change_and_delete() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let owner = app.user_token(Role::Uploader).await;
    let other = app.user_token(Role::Uploader).await;
    let id = app
        .upload(&owner, "original", "public", vec![1, 2, 3])
        .await;
    let path = format!("/videos/{id}");

    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&other)
        .json(&json!({"title": "hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );

    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .json(&json!({"title": "renamed", "visibility": "private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let video: Value = response.json().await.unwrap();
    assert_eq!(
        (video["title"].as_str(), video["visibility"].as_str()),
        (Some("renamed"), Some("private"))
    );

    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_json"
    );
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .json(&json!({"visibility": "hidden"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_visibility"
    );

    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!app.master_path(id).exists());
    assert_eq!(app.video_rows().await, 0);
    assert_eq!(app.job_rows().await, 0);
    let response = app.get(Some(&owner), &path).await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn playback_tokens_are_issued_to_owners_and_admins_for_one_video() {
    let app = spawn_app().await;
    let owner = app.user_token(Role::Uploader).await;
    let viewer = app.user_token(Role::Viewer).await;
    let admin = app.admin_token().await;
    let id = app.upload(&owner, "private", "private", vec![1]).await;
    let public = app.upload(&owner, "public", "public", vec![1]).await;
    let verifier = TokenVerifier::load(&app.data.path().join("token.pub")).unwrap();

    for token in [&owner, &admin] {
        let response = app
            .client
            .post(app.url(&format!("/videos/{id}/playback-token")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let expires_at: chrono::DateTime<chrono::Utc> =
            body["expires_at"].as_str().unwrap().parse().unwrap();
        assert!(expires_at > chrono::Utc::now());
        let playback = body["token"].as_str().unwrap();
        verifier.verify_playback(playback, id).unwrap();
        assert!(verifier.verify_playback(playback, public).is_err());
        // A playback token is not an API token.
        let response = app.get(Some(playback), "/users/me").await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "invalid_token"
        );
    }
    let response = app
        .client
        .post(app.url(&format!("/videos/{public}/playback-token")))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
}
