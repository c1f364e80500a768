//! `bench/pages/posts.json`, from which the real-page benchmark's Flask and axum peers
//! render `/blog`, holds the example app's posts as they are now.

#[test]
fn bench_posts_json_is_the_example_apps_posts() {
    let path = example_app::repository_root().join("bench/pages/posts.json");
    let saved = std::fs::read_to_string(&path).expect("bench/pages/posts.json");
    let posts = serde_json::to_string_pretty(example_app::POSTS).unwrap();
    assert_eq!(
        saved.trim_end(),
        posts,
        "regenerate it: cargo run -p example-app --example posts_json > bench/pages/posts.json"
    );
}
