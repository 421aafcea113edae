//! Message delivery: every code and temporary password goes to the outbox (dev mode
//! reads it like an inbox), and emails also go over SMTP when it is configured.

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

/// Records the message in the outbox and, for email with SMTP configured, sends it.
/// A failed SMTP send is not an error of the request: the code is in the outbox and
/// Cognito likewise reports success once a message is queued. It is logged, and
/// returned (`Some`) for the pool's `userNotification` log export.
pub async fn deliver(
    store: &dyn Store,
    mailer: Option<&Mailer>,
    message: OutboxRow,
) -> Result<Option<String>, idpool_store::StoreError> {
    store.push_message(&message).await?;
    if message.channel == "EMAIL"
        && let Some(m) = mailer
    {
        let subject = message
            .subject
            .clone()
            .unwrap_or_else(|| "Your verification code".into());
        if let Err(e) = m
            .send(&message.destination, &subject, &message.message)
            .await
        {
            tracing::warn!(error = %e, destination = %message.destination, "SMTP delivery failed");
            return Ok(Some(e));
        }
    }
    Ok(None)
}
