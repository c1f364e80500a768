//! `cargo run -p example-app --example posts_json > bench/pages/posts.json`: the blog's posts
//! as JSON, so that the real-page benchmark's Flask and axum peers (`bench/pages.py`) render
//! `/blog` from the same data as the example app.

fn main() -> Result<(), serde_json::Error> {
    let json = serde_json::to_string_pretty(example_app::POSTS)?;
    println!("{json}");
    Ok(())
}
