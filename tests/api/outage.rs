//! The database goes away mid-run: operations answer a `Server` fault within seconds and
//! `/readyz` fails; when it returns, service resumes without a restart. MariaDB only: the
//! server reaches it through a TCP proxy that the test cuts and restores.

#[cfg(feature = "mysql")]
mod through_a_proxy {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    use crate::helpers::{Auth, Backend, TestDatabase, spawn_app_on, test_settings};

    /// Forwards 127.0.0.1:port to MariaDB until cut; a cut closes every connection and
    /// refuses new ones, as a dead server would. It runs on its own runtime: the server under
    /// test makes blocking database calls on the test's thread.
    struct Proxy {
        port: u16,
        runtime: Option<tokio::runtime::Runtime>,
        tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
        accept: Option<JoinHandle<()>>,
    }

    impl Proxy {
        fn start() -> Proxy {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let mut proxy = Proxy {
                port: 0,
                runtime: Some(runtime),
                tasks: Arc::default(),
                accept: None,
            };
            proxy.listen();
            proxy
        }

        fn listen(&mut self) {
            let port = self.port;
            // The old listener may take a moment to be dropped after a cut.
            let deadline = Instant::now() + Duration::from_secs(5);
            let listener = loop {
                match std::net::TcpListener::bind(("127.0.0.1", port)) {
                    Ok(listener) => break listener,
                    Err(e) if Instant::now() > deadline => panic!("the proxy cannot bind: {e}"),
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            listener.set_nonblocking(true).unwrap();
            let runtime = self.runtime.as_ref().expect("a running proxy");
            let listener = {
                let _context = runtime.enter();
                TcpListener::from_std(listener).unwrap()
            };
            self.port = listener.local_addr().unwrap().port();
            let tasks = self.tasks.clone();
            let handle = runtime.handle().clone();
            self.accept = Some(runtime.spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let link = handle.spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect("127.0.0.1:3306").await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(link);
                }
            }));
        }

        fn cut(&mut self) {
            if let Some(accept) = self.accept.take() {
                accept.abort();
            }
            for task in self.tasks.lock().unwrap().drain(..) {
                task.abort();
            }
        }

        fn restore(&mut self) {
            self.listen();
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.cut();
            if let Some(runtime) = self.runtime.take() {
                runtime.shutdown_background();
            }
        }
    }

    #[actix_web::test]
    async fn a_database_outage_gives_server_faults_and_service_resumes_when_it_returns() {
        let db = Arc::new(TestDatabase::new(Backend::Mysql));
        let mut proxy = Proxy::start();
        let mut settings = test_settings(&db);
        let name = db.url.rsplit('/').next().unwrap().to_string();
        settings.database_url = Some(format!("mysql://root@127.0.0.1:{}/{name}", proxy.port));
        let app = spawn_app_on(db.clone(), settings).await;
        app.seed_basic_clinic().await;
        app.soap(&Auth::admin(), "getCenters", "").await.assert_ok();

        proxy.cut();
        let started = Instant::now();
        let reply = app.soap(&Auth::admin(), "getCenters", "").await;
        let waited = started.elapsed();
        reply.assert_fault("Server", "temporarily unavailable");
        assert!(waited < Duration::from_secs(5), "the fault took {waited:?}");
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status().as_u16(), 503);
        let health = app.get("/healthz").await;
        assert_eq!(health.status().as_u16(), 200, "the process itself is fine");
        let push = app
            .push_key_entities(
                &[&[
                    ("LOCATION_LID", "C9"),
                    ("LOCATION_NAME", "Nine"),
                    ("LOCATION_TIMEZONE", "UTC"),
                ]],
                false,
            )
            .await;
        push.assert_fault("Server", "temporarily unavailable");

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let reply = app.soap(&Auth::admin(), "getCenters", "").await;
            if !reply.is_fault() {
                assert_eq!(
                    reply.fields("CENTER_LID"),
                    vec!["C1"],
                    "nothing of the failed push was written"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "service did not resume: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
        proxy.cut();
    }
}
