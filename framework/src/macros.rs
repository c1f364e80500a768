//! The `route!` macro.

/// Registers a handler for one or more methods on a path pattern.
///
/// ```
/// use carafe::{route, App, Request, Response};
///
/// fn index(_req: &Request) -> &'static str { "home" }
/// fn contact(req: &Request) -> String { format!("{} /contact", req.method()) }
///
/// let mut app = App::new();
/// // One method, a plain function.
/// route!(app, GET "/" => index).unwrap();
/// // Several methods.
/// route!(app, [GET, POST] "/contact" => contact).unwrap();
/// // A closure, with a path parameter.
/// route!(app, GET "/hello/{name}" => |req| format!("Hello, {}!", req.param("name").unwrap_or("you"))).unwrap();
/// // Options after the handler: a name for url_for.
/// route!(app, GET "/about" => index, name = "about").unwrap();
///
/// let routes = app.routes();
/// assert_eq!(routes[0].handler(), "index");
/// assert_eq!(routes[3].name(), Some("about"));
/// ```
///
/// The result is a `Result<&mut App, RouteError>`: registering a route that duplicates or
/// ambiguously overlaps another is an error at registration time, naming both routes, so
/// applications write `route!(...)?;` in a function returning `Result`.
///
/// ```
/// # use carafe::{route, App};
/// let mut app = App::new();
/// route!(app, GET "/user/{id}" => |_req| "by id").unwrap();
/// let error = route!(app, GET "/user/{name}" => |_req| "by name").unwrap_err();
/// assert!(error.to_string().contains("conflicts with route /user/{id}"));
/// ```
///
/// Patterns use matchit's syntax: `{name}` matches one segment, `{*rest}` the rest of the path
/// (never empty), `{{` and `}}` are literal braces. Methods are the `http::Method` constants
/// (`GET`, `POST`, `PUT`, `DELETE`, `PATCH`, `HEAD`, `OPTIONS`, ...). HEAD is answered by the
/// GET handler and OPTIONS with the `Allow` list unless registered explicitly.
///
/// Limits: the handler must be a path to a function or a closure expression (the macro
/// records its source text as the handler's name; a function's name is also the route's
/// default name for `url_for`); options are the methods of [`RouteSpec`](crate::RouteSpec).
#[macro_export]
macro_rules! route {
    ($app:expr, [$($method:ident),+ $(,)?] $pattern:expr => $handler:expr $(, $option:ident $(= $value:expr)?)* $(,)?) => {
        $app.route(
            $crate::RouteSpec::new(&[$($crate::Method::$method),+], $pattern)
                .handler_name(stringify!($handler), concat!(file!(), ":", line!()))
                $(.$option($($value)?))*,
            $handler,
        )
    };
    ($app:expr, $method:ident $pattern:expr => $handler:expr $(, $option:ident $(= $value:expr)?)* $(,)?) => {
        $crate::route!($app, [$method] $pattern => $handler $(, $option $(= $value)?)*)
    };
}

/// Builds a template context from `key => value` pairs, where each value is anything serde
/// can serialize (structs, slices, maps, strings, numbers, or another `context!`). A bare
/// `key` uses the variable of that name.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Post { title: &'static str }
///
/// let posts = vec![Post { title: "First" }, Post { title: "Second" }];
/// let user = "ada";
/// let context = carafe::context! { posts => &posts, user, count => posts.len() };
/// assert_eq!(context.get_attr("count").unwrap().as_usize(), Some(2));
/// ```
///
/// It wraps minijinja's `context!`, whose values must already be template values.
#[macro_export]
macro_rules! context {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {
        $crate::__private::minijinja::context! {
            $($key => $crate::__private::minijinja::value::Serde($crate::__context_value!($key $(=> $value)?))),*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __context_value {
    ($key:ident) => {
        &$key
    };
    ($key:ident => $value:expr) => {
        $value
    };
}
