//! Trigger invocation: runs the function a pool's LambdaConfig names, wherever the
//! config maps its ARN: a local command (event on stdin, response on stdout), an HTTP
//! URL (event POSTed as JSON), or the Lambda Invoke API of a configured endpoint,
//! SigV4-signed, so AWS Lambda itself or any emulator works.
//!
//! Cognito's rules: each attempt may take 5 seconds; a call that times out or cannot
//! reach the function is tried up to three times; an error the handler itself raised is
//! final (retrying would run its side effects again).

use crate::config::{FunctionTarget, TriggerConfig};
use idpool_wire::sigv4;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Why a call produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The handler ran and failed (threw, exited non-zero, answered an error status):
    /// its message, for UserLambdaValidationException.
    Function(String),
    /// Every attempt ran out of time.
    Timeout,
    /// The function could not be run or reached (after retries where that helps).
    Failed(String),
    /// The handler answered something that is not JSON.
    BadOutput,
    /// No `[functions]` entry for the ARN and no Lambda endpoint configured.
    NotMapped,
}

/// Outcome of one attempt; `Retry` failures are tried again.
enum Attempt {
    Done(Result<Value, InvokeError>),
    Retry(InvokeError),
}

pub struct Invoker {
    config: TriggerConfig,
    http: reqwest::Client,
}

impl Invoker {
    pub fn new(config: TriggerConfig) -> Invoker {
        Invoker {
            config,
            http: reqwest::Client::new(),
        }
    }

    /// The key standing in for KMS key `kms_key_id` (custom sender codes).
    pub fn sender_key(&self, kms_key_id: &str) -> Option<&[u8]> {
        self.config.sender_keys.get(kms_key_id).map(Vec::as_slice)
    }

    /// Invokes `arn` with `event`, returning the function's JSON output.
    pub async fn invoke(&self, arn: &str, event: &Value) -> Result<Value, InvokeError> {
        let body = event.to_string();
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let mut last = InvokeError::Timeout;
        for attempt in 0..self.config.attempts {
            if attempt > 0 {
                tracing::warn!(arn, attempt, error = ?last, "retrying trigger");
            }
            let call = self.attempt(arn, &body);
            match tokio::time::timeout(timeout, call).await {
                Err(_) => last = InvokeError::Timeout,
                Ok(Attempt::Retry(e)) => last = e,
                Ok(Attempt::Done(result)) => return result,
            }
        }
        Err(last)
    }

    async fn attempt(&self, arn: &str, body: &str) -> Attempt {
        match self.config.functions.get(arn) {
            Some(FunctionTarget {
                command: Some(argv),
                ..
            }) => self.run_command(argv, body).await,
            Some(FunctionTarget { url: Some(url), .. }) => self.post(url, body).await,
            _ => match &self.config.lambda_endpoint {
                Some(endpoint) => self.lambda_invoke(endpoint, arn, body).await,
                None => Attempt::Done(Err(InvokeError::NotMapped)),
            },
        }
    }

    async fn run_command(&self, argv: &[String], body: &str) -> Attempt {
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A timed-out attempt drops the future: the handler must not outlive it.
            .kill_on_drop(true);
        if let Some(dir) = &self.config.command_dir {
            cmd.current_dir(dir);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Attempt::Done(Err(InvokeError::Failed(format!(
                    "cannot run {}: {e}",
                    argv[0]
                ))));
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A handler that exits without reading its event is its own business.
            let _ = stdin.write_all(body.as_bytes()).await;
        }
        let out = match child.wait_with_output().await {
            Ok(o) => o,
            Err(e) => return Attempt::Retry(InvokeError::Failed(e.to_string())),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            return Attempt::Done(
                serde_json::from_str(stdout.trim()).map_err(|_| InvokeError::BadOutput),
            );
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = error_message(stdout.trim()).unwrap_or_else(|| {
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| format!("handler exited with {}", out.status))
        });
        Attempt::Done(Err(InvokeError::Function(message)))
    }

    async fn post(&self, url: &str, body: &str) -> Attempt {
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(InvokeError::Failed(e.to_string())),
        };
        let status = resp.status().as_u16();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Attempt::Retry(InvokeError::Failed(e.to_string())),
        };
        if (200..300).contains(&status) {
            return Attempt::Done(serde_json::from_str(&text).map_err(|_| InvokeError::BadOutput));
        }
        if matches!(status, 429 | 502 | 503 | 504) && error_message(&text).is_none() {
            return Attempt::Retry(InvokeError::Failed(format!("HTTP {status}")));
        }
        let message = error_message(&text).unwrap_or_else(|| {
            let t = text.trim();
            if t.is_empty() {
                format!("HTTP {status}")
            } else {
                t.chars().take(500).collect()
            }
        });
        Attempt::Done(Err(InvokeError::Function(message)))
    }

    /// `POST /2015-03-31/functions/{arn}/invocations`, RequestResponse, SigV4 for the
    /// ARN's region. A handler error comes back as 200 with `X-Amz-Function-Error`.
    async fn lambda_invoke(&self, endpoint: &str, arn: &str, body: &str) -> Attempt {
        let region = arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or("us-east-1");
        let path = format!(
            "/2015-03-31/functions/{}/invocations",
            utf8_percent_encode(arn, NON_ALPHANUMERIC)
        );
        let url = format!("{endpoint}{path}");
        let Ok(parsed) = reqwest::Url::parse(&url) else {
            return Attempt::Done(Err(InvokeError::Failed(format!(
                "invalid Lambda endpoint {endpoint}"
            ))));
        };
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => String::new(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("host".to_string(), host),
            ("x-amz-date".to_string(), sigv4::format_amz_date(now)),
            (
                "x-amz-invocation-type".to_string(),
                "RequestResponse".to_string(),
            ),
        ];
        let authorization = sigv4::sign(
            &sigv4::RequestParts {
                method: "POST",
                path: parsed.path(),
                query: "",
                headers: &headers,
                body: body.as_bytes(),
            },
            &self.config.access_key_id,
            &self.config.secret_access_key,
            region,
            "lambda",
        );
        let mut req = self.http.post(parsed.clone()).body(body.to_string());
        for (name, value) in &headers {
            if name != "host" {
                req = req.header(name, value);
            }
        }
        let resp = match req.header("authorization", authorization).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(InvokeError::Failed(e.to_string())),
        };
        let status = resp.status().as_u16();
        let function_error = resp.headers().contains_key("x-amz-function-error");
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split(':').next().unwrap_or(t).to_string());
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Attempt::Retry(InvokeError::Failed(e.to_string())),
        };
        if function_error {
            return Attempt::Done(Err(InvokeError::Function(
                error_message(&text).unwrap_or_else(|| "Unhandled".into()),
            )));
        }
        if (200..300).contains(&status) {
            return Attempt::Done(serde_json::from_str(&text).map_err(|_| InvokeError::BadOutput));
        }
        // Errors of the Lambda service itself, named as AWS names them
        // ("... invocation failed due to error AccessDeniedException.").
        let kind = error_type
            .or_else(|| {
                serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                    v["__type"]
                        .as_str()
                        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
                })
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        if status == 429 || status >= 500 {
            Attempt::Retry(InvokeError::Failed(kind))
        } else {
            Attempt::Done(Err(InvokeError::Failed(kind)))
        }
    }
}

/// Lambda's error payload, `{"errorMessage": "...", "errorType": "..."}`.
fn error_message(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    v["errorMessage"].as_str().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_error_payloads_are_read() {
        assert_eq!(
            error_message(r#"{"errorType":"Error","errorMessage":"no way"}"#),
            Some("no way".into())
        );
        assert_eq!(error_message("plain text"), None);
    }
}
