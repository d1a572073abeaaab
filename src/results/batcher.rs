//! A thread that serves requests in batches, for group commit: it takes every request waiting
//! (up to [`BATCH`]), serves them with one call (one transaction) and answers each caller.
//! Callers wait on a oneshot: no thread of the blocking pool is involved, so a request costs
//! two thread hand-offs (to this thread and back), shared by the whole batch. Used by the
//! SOAP content reads (`app::results::read_log`) and the patient page's downloads (`app::results::download_desk`).

use std::collections::VecDeque;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::error::Error;

/// Requests served per call at most.
pub const BATCH: usize = 512;

type Answer<Out> = oneshot::Sender<Result<Out, String>>;

pub struct Batcher<Req, Out> {
    name: &'static str,
    sender: mpsc::Sender<(Req, Answer<Out>)>,
}

impl<Req: Send + 'static, Out: Send + 'static> Batcher<Req, Out> {
    /// Starts the thread; it ends when the batcher is dropped. `serve` answers a prefix of the
    /// batch it is given (at least one request; the rest waits for the next call), in order,
    /// or fails the whole batch with a message for the callers.
    pub fn start<F>(name: &'static str, mut serve: F) -> Self
    where
        F: FnMut(&[Req]) -> Result<Vec<Out>, String> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel::<(Req, Answer<Out>)>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut requests: VecDeque<Req> = VecDeque::new();
                let mut answers: VecDeque<Answer<Out>> = VecDeque::new();
                loop {
                    if requests.is_empty() {
                        match receiver.recv() {
                            Ok((request, answer)) => {
                                requests.push_back(request);
                                answers.push_back(answer);
                            }
                            Err(_) => return,
                        }
                    }
                    while requests.len() < BATCH {
                        match receiver.try_recv() {
                            Ok((request, answer)) => {
                                requests.push_back(request);
                                answers.push_back(answer);
                            }
                            Err(_) => break,
                        }
                    }
                    match serve(requests.make_contiguous()) {
                        Ok(outs) => {
                            // At least one, so that a wrong `serve` cannot spin forever.
                            let served = outs.len().clamp(1, requests.len());
                            requests.drain(..served);
                            for (out, answer) in outs.into_iter().zip(answers.drain(..served)) {
                                let _ = answer.send(Ok(out));
                            }
                        }
                        Err(e) => {
                            requests.clear();
                            for answer in answers.drain(..) {
                                let _ = answer.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })
            .unwrap_or_else(|e| panic!("a thread for {name}: {e}"));
        Batcher { name, sender }
    }

    /// Queues `request` and waits for its answer; a failed batch is an outage (`Unavailable`).
    pub async fn submit(&self, request: Req) -> Result<Out, Error> {
        let stopped = || Error::Internal(format!("the {} thread has stopped", self.name));
        let (answer, answered) = oneshot::channel();
        self.sender.send((request, answer)).map_err(|_| stopped())?;
        answered
            .await
            .map_err(|_| stopped())?
            .map_err(Error::Unavailable)
    }
}
