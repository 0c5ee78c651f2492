//! One Lambda function, two kinds of event: API Gateway's WebSocket events and the timer
//! queue's SQS batches. [`Incoming`] tells them apart by their top-level shape, and
//! [`App::invoke`] sends each to its handler.
//!
//! An SQS batch answers with `ReportBatchItemFailures`: only the messages that failed for a
//! reason that may pass (the store was unavailable) come back for another try; a body that is
//! not a timer is reported too, so after the queue's `maxReceiveCount` it lands in the
//! dead-letter queue where an operator can read it, instead of blocking anything.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use lambda_runtime::LambdaEvent;
use quiz_store::Store;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::broadcast::ConnectionPoster;
use crate::handler::{now_millis, App};
use crate::timers::{Timer, TimerQueue};

/// An event the function is invoked with.
#[derive(Debug)]
pub enum Incoming {
    WebSocket(Box<ApiGatewayWebsocketProxyRequest>),
    Sqs(SqsEvent),
}

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Incoming::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Incoming {
    /// `Records` from `aws:sqs` is a batch of timers; `requestContext` a WebSocket event.
    pub fn from_value(value: Value) -> Result<Incoming, String> {
        if let Some(records) = value.get("Records").and_then(Value::as_array) {
            let from_sqs = |record: &Value| {
                record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
            };
            if !records.iter().all(from_sqs) {
                return Err(
                    "a Records event whose eventSource is not aws:sqs: only the timer \
                            queue should invoke this function with records"
                        .into(),
                );
            }
            return serde_json::from_value(value)
                .map(Incoming::Sqs)
                .map_err(|err| format!("not an SQS event: {err}"));
        }
        if value.get("requestContext").is_some() {
            return serde_json::from_value(value)
                .map(|request| Incoming::WebSocket(Box::new(request)))
                .map_err(|err| format!("not an API Gateway WebSocket event: {err}"));
        }
        Err(
            "neither an SQS event (Records) nor an API Gateway WebSocket event \
             (requestContext)"
                .into(),
        )
    }
}

/// What the function answers: the route response, or which messages of a batch failed.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    WebSocket(Box<ApiGatewayProxyResponse>),
    Sqs(SqsBatchResponse),
}

impl<S: Store, P: ConnectionPoster, T: TimerQueue> App<S, P, T> {
    /// Handles whatever the function was invoked with.
    pub async fn invoke(
        &self,
        event: LambdaEvent<Incoming>,
    ) -> Result<Outgoing, lambda_runtime::Error> {
        match event.payload {
            Incoming::WebSocket(request) => self
                .handle(LambdaEvent::new(*request, event.context))
                .await
                .map(|response| Outgoing::WebSocket(Box::new(response))),
            Incoming::Sqs(batch) => Ok(Outgoing::Sqs(self.handle_timers(batch).await)),
        }
    }

    /// Fires every timer of a batch at once; reports the messages to deliver again.
    pub async fn handle_timers(&self, batch: SqsEvent) -> SqsBatchResponse {
        let now = now_millis();
        let results = join_all(
            batch
                .records
                .iter()
                .map(|record| self.timer_message(record, now)),
        );
        let mut response = SqsBatchResponse::default();
        for (record, ok) in batch.records.iter().zip(results.await) {
            if !ok {
                // An empty id would fail the whole batch; SQS always sets one.
                if let Some(id) = record.message_id.clone().filter(|id| !id.is_empty()) {
                    response.add_failure(id);
                }
            }
        }
        response
    }

    async fn timer_message(&self, record: &SqsMessage, now: u64) -> bool {
        let body = record.body.as_deref().unwrap_or_default();
        let timer = match Timer::from_body(body) {
            Ok(timer) => timer,
            Err(err) => {
                tracing::error!(
                    message_id = record.message_id.as_deref().unwrap_or(""),
                    error = %err,
                    body = body.chars().take(200).collect::<String>(),
                    "a timer message that is not a timer"
                );
                return false;
            }
        };
        let redelivered = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse::<u32>().ok())
            .is_some_and(|count| count > 1);
        match self.fire_timer(&timer, now, redelivered).await {
            Ok(_) => true,
            Err(err) => {
                tracing::error!(room = timer.room, error = %err, "timer failed; SQS will deliver it again");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_told_apart_by_shape() {
        let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        assert!(matches!(Incoming::from_value(sqs), Ok(Incoming::Sqs(_))));
        let ws: Value =
            serde_json::from_str(include_str!("../../../fixtures/events/message-start.json"))
                .unwrap();
        assert!(matches!(
            Incoming::from_value(ws),
            Ok(Incoming::WebSocket(_))
        ));
        let sns = serde_json::json!({"Records": [{"EventSource": "aws:sns"}]});
        let err = Incoming::from_value(sns).unwrap_err();
        assert!(err.contains("aws:sqs"), "{err}");
        let err = Incoming::from_value(serde_json::json!({"hello": 1})).unwrap_err();
        assert!(err.contains("requestContext"), "{err}");
    }

    #[test]
    fn the_websocket_response_serializes_as_before() {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = 200;
        let json = serde_json::to_value(Outgoing::WebSocket(Box::new(response.clone()))).unwrap();
        assert_eq!(json, serde_json::to_value(response).unwrap());
        let mut batch = SqsBatchResponse::default();
        batch.add_failure("m1".to_owned());
        assert_eq!(
            serde_json::to_value(Outgoing::Sqs(batch)).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
        );
    }
}
