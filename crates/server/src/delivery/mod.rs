//! Message delivery: every code and temporary password goes to the outbox (dev mode
//! reads it like an inbox); emails also go over SMTP and text messages to the SMS
//! webhook when they are configured.

use crate::config::Webhook;
use idpool_core::crypto;
use idpool_store::{OutboxRow, Store};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `smtp://host:port` (no TLS, for local relays and tests) or `smtps://user:pass@host:port`.
    pub fn new(url: &str, from: &str) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("--smtp-from: {e}"))?;
        let (tls, rest) = if let Some(r) = url.strip_prefix("smtps://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("smtp://") {
            (false, r)
        } else {
            return Err("--smtp-url must start with smtp:// or smtps://".into());
        };
        let (creds, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.trim_end_matches('/')
                        .parse::<u16>()
                        .map_err(|e| format!("--smtp-url port: {e}"))?,
                ),
            ),
            None => (hostport.trim_end_matches('/'), None),
        };
        let mut builder = if tls {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| e.to_string())?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        };
        if let Some(p) = port {
            builder = builder.port(p);
        }
        if let Some(c) = creds {
            let (user, pass) = c.split_once(':').unwrap_or((c, ""));
            builder = builder.credentials(Credentials::new(user.to_string(), pass.to_string()));
        }
        builder = builder.timeout(Some(std::time::Duration::from_secs(10)));
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient {to}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body.to_string())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A webhook of the operator's own (an SMS gateway in front of Twilio or SNS, a push
/// relay in front of APNs or FCM): JSON POSTed, signed when a secret is configured.
pub struct SignedWebhook {
    client: reqwest::Client,
    config: Webhook,
    name: &'static str,
}

impl SignedWebhook {
    pub fn new(config: Webhook, name: &'static str) -> Result<SignedWebhook, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("{name} client: {e}"))?;
        Ok(SignedWebhook {
            client,
            config,
            name,
        })
    }

    /// POSTs `body`; any 2xx answer is success.
    pub async fn post(&self, body: String, now_secs: i64) -> Result<(), String> {
        let mut request = self
            .client
            .post(self.config.url.clone())
            .header("content-type", "application/json");
        if let Some(secret) = &self.config.secret {
            // The time is signed with the body so that a captured request cannot be
            // replayed later (to text a code again, to wake devices).
            let mac =
                crypto::hmac_sha256(secret.as_bytes(), format!("{now_secs}.{body}").as_bytes());
            request = request.header(
                "x-idpool-signature",
                format!("t={now_secs},v1={}", hex::encode(mac)),
            );
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.name))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {}", self.name, response.status()))
        }
    }
}

/// The ways out besides the outbox.
#[derive(Default)]
pub struct Senders {
    pub mailer: Option<Mailer>,
    pub sms: Option<SignedWebhook>,
    /// Cognito Sync's push notifications (`sync::devices::notify_subscribers`).
    pub push: Option<SignedWebhook>,
}

/// Records the message in the outbox and sends it by email (SMTP) or text message
/// (the SMS webhook) when that is configured. A failed send is not an error of the
/// request: the code is in the outbox and Cognito likewise reports success once a
/// message is queued. It is logged, and returned (`Some`) for the pool's
/// `userNotification` log export.
pub async fn deliver(
    store: &dyn Store,
    senders: &Senders,
    message: OutboxRow,
) -> Result<Option<String>, idpool_store::StoreError> {
    store.push_message(&message).await?;
    let sent = match (message.channel.as_str(), &senders.mailer, &senders.sms) {
        ("EMAIL", Some(m), _) => {
            let subject = message
                .subject
                .clone()
                .unwrap_or_else(|| "Your verification code".into());
            m.send(&message.destination, &subject, &message.message)
                .await
        }
        ("SMS", _, Some(sms)) => {
            let body = serde_json::json!({
                "messageId": message.id,
                "to": message.destination,
                "message": message.message,
                "userPoolId": message.pool_id,
                "username": message.username,
            });
            sms.post(body.to_string(), message.created_at / 1000).await
        }
        _ => Ok(()),
    };
    match sent {
        Ok(()) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, channel = %message.channel, destination = %message.destination, "message delivery failed");
            Ok(Some(e))
        }
    }
}
