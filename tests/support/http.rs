//! The Connect REST tests' HTTP client, blocking, for tests that drive processes from
//! plain threads.

use serde_json::Value;

#[path = "../../connect/tests/support/http.rs"]
mod client;

pub(crate) use client::Response;

use super::block_on;

/// A blocking client for the REST API at `127.0.0.1:PORT`.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    inner: client::Http,
}

impl Http {
    pub(crate) fn new(address: &str) -> Http {
        let address = address
            .parse()
            .unwrap_or_else(|err| panic!("bad REST address {address}: {err}"));
        Http {
            inner: client::Http::new(address),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        block_on(self.inner.get(path))
    }

    pub(crate) fn delete(&self, path: &str) -> Response {
        block_on(self.inner.delete(path))
    }

    /// POST with a JSON body; `Value::Null` sends none.
    pub(crate) fn post(&self, path: &str, body: &Value) -> Response {
        match body {
            Value::Null => block_on(self.inner.send("POST", path, None)),
            body => block_on(self.inner.post(path, body)),
        }
    }

    /// PUT with a JSON body; `Value::Null` sends none.
    pub(crate) fn put(&self, path: &str, body: &Value) -> Response {
        match body {
            Value::Null => block_on(self.inner.send("PUT", path, None)),
            body => block_on(self.inner.put(path, body)),
        }
    }

    /// PATCH with a JSON body.
    pub(crate) fn patch(&self, path: &str, body: &Value) -> Response {
        block_on(self.inner.patch(path, body))
    }
}
