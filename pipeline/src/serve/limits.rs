//! Per-statement limits: a wall-clock timeout and a cap on rows returned.
//!
//! Results stream from DataFusion to the client row by row, so both limits are enforced on
//! that stream: [`Limited`] counts rows and watches a deadline set when the statement
//! started, and turns either into a PostgreSQL error in place of the next row. Dropping
//! the inner stream stops DataFusion's execution, so a cancelled query stops using CPU.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use pgwire::api::results::{QueryResponse, Response, SendableRowStream};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use tokio::time::{Instant, Sleep};

/// The limits one statement runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_rows: u64,
}

/// SQLSTATE 57014 query_canceled.
pub fn timeout_error(timeout: Duration) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "57014".into(),
        format!(
            "canceling statement due to the server's query timeout of {} s (serve.query_timeout_secs in conveyor.toml)",
            timeout.as_secs()
        ),
    )))
}

/// SQLSTATE 54000 program_limit_exceeded.
pub fn row_cap_error(max_rows: u64) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "54000".into(),
        format!(
            "result has more than {max_rows} rows, the server's cap: aggregate or add a LIMIT, or raise serve.max_rows in conveyor.toml"
        ),
    )))
}

/// A row stream that ends with an error once the deadline passes or the cap is exceeded.
pub struct Limited {
    inner: SendableRowStream,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    rows: u64,
    max_rows: u64,
    done: bool,
}

impl Limited {
    pub fn new(inner: SendableRowStream, limits: Limits, started: Instant) -> Self {
        Limited {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(started + limits.timeout)),
            timeout: limits.timeout,
            rows: 0,
            max_rows: limits.max_rows,
            done: false,
        }
    }
}

impl Stream for Limited {
    type Item = PgWireResult<DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(timeout_error(self.timeout))));
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(row))) => {
                self.rows += 1;
                if self.rows > self.max_rows {
                    self.done = true;
                    Poll::Ready(Some(Err(row_cap_error(self.max_rows))))
                } else {
                    Poll::Ready(Some(Ok(row)))
                }
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Puts a query response's rows under `limits`; other responses pass through.
pub fn limit_response(response: Response, limits: Limits, started: Instant) -> Response {
    match response {
        Response::Query(mut q) => {
            let rows = std::mem::replace(q.data_rows(), Box::pin(futures::stream::empty()));
            let mut limited =
                QueryResponse::new(q.row_schema(), Limited::new(rows, limits, started));
            limited.set_command_tag(q.command_tag());
            Response::Query(limited)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn rows(n: usize) -> SendableRowStream {
        Box::pin(futures::stream::iter(
            (0..n).map(|_| Ok(DataRow::new(bytes::BytesMut::new(), 0))),
        ))
    }

    fn code(e: &PgWireError) -> String {
        match e {
            PgWireError::UserError(info) => format!("{} {}", info.code, info.message),
            other => format!("{other}"),
        }
    }

    #[tokio::test]
    async fn the_row_cap_is_an_error_only_beyond_the_cap() {
        let limits = Limits {
            timeout: Duration::from_secs(60),
            max_rows: 3,
        };
        let exact: Vec<_> = Limited::new(rows(3), limits, Instant::now())
            .collect()
            .await;
        assert_eq!(exact.len(), 3);
        assert!(exact.iter().all(|r| r.is_ok()));

        let over: Vec<_> = Limited::new(rows(10), limits, Instant::now())
            .collect()
            .await;
        assert_eq!(over.len(), 4, "three rows, then the error, then nothing");
        let err = over[3].as_ref().unwrap_err();
        let text = code(err);
        assert!(
            text.starts_with("54000") && text.contains("3 rows") && text.contains("serve.max_rows"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_stalled_stream_times_out_with_57014() {
        let limits = Limits {
            timeout: Duration::from_millis(10),
            max_rows: 10,
        };
        let never: SendableRowStream = Box::pin(futures::stream::pending());
        let got: Vec<_> = Limited::new(never, limits, Instant::now()).collect().await;
        assert_eq!(got.len(), 1);
        assert!(code(got[0].as_ref().unwrap_err()).starts_with("57014"));
    }
}
