//! Amazon SES: the game-day report by e-mail (`ftctl verify --mail-to`), the seed's channel for
//! error notifications. SendEmail of the SES v2 API sends from an identity SES has verified
//! (in the sandbox, to verified recipients only); SES's refusal is passed on as it is.

use crate::aws::clients::Clients;
use crate::aws::sdk::aws_error;
use anyhow::Result;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// Sends one message with a text and an HTML body; gives SES's message id.
pub async fn send(
    clients: &Clients,
    from: &str,
    to: &[String],
    subject: &str,
    text: &str,
    html: &str,
) -> Result<String> {
    let part = |data: &str| Content::builder().data(data).charset("UTF-8").build();
    let message = Message::builder()
        .subject(part(subject)?)
        .body(Body::builder().text(part(text)?).html(part(html)?).build())
        .build();
    let out = clients
        .sesv2
        .send_email()
        .from_email_address(from)
        .destination(
            Destination::builder()
                .set_to_addresses(Some(to.to_vec()))
                .build(),
        )
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map_err(|e| aws_error(&format!("sending the report from {from} through SES"), e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}
