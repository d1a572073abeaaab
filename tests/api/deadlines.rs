//! A database that stops answering (packets swallowed, as a Galera node that lost its cluster in
//! the middle of a locking read does): every call ends within the read deadline with a `Server`
//! fault, service resumes by itself, and SIGTERM stops the process within its shutdown deadline
//! whatever the database does. MariaDB only: the server reaches it through a proxy that the test
//! freezes.

#[cfg(feature = "mysql")]
mod through_a_freezing_proxy {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use crate::helpers::{Auth, Backend, TestDatabase, rendez_bin, spawn_app_on, test_settings};

    /// Forwards 127.0.0.1:port to MariaDB; frozen, it reads what either side sends and drops
    /// it, so that connections stay open and nothing answers.
    struct FreezingProxy {
        port: u16,
        frozen: Arc<AtomicBool>,
    }

    impl FreezingProxy {
        fn start(target: u16) -> FreezingProxy {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let frozen = Arc::new(AtomicBool::new(false));
            let gate = frozen.clone();
            std::thread::spawn(move || {
                for inbound in listener.incoming() {
                    let Ok(inbound) = inbound else { return };
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                        continue;
                    };
                    pipe(
                        inbound.try_clone().unwrap(),
                        outbound.try_clone().unwrap(),
                        &gate,
                    );
                    pipe(outbound, inbound, &gate);
                }
            });
            FreezingProxy { port, frozen }
        }

        fn freeze(&self) {
            self.frozen.store(true, Ordering::SeqCst);
        }

        fn thaw(&self) {
            self.frozen.store(false, Ordering::SeqCst);
        }
    }

    fn pipe(mut from: TcpStream, mut to: TcpStream, frozen: &Arc<AtomicBool>) {
        let frozen = frozen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if frozen.load(Ordering::SeqCst) {
                    continue;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Both);
        });
    }

    fn mysql_port() -> u16 {
        let base = crate::helpers::mysql_base_url();
        url::Url::parse(&base).unwrap().port().unwrap_or(3306)
    }

    fn through(db: &TestDatabase, proxy: &FreezingProxy) -> String {
        let name = db.url.rsplit('/').next().unwrap().to_string();
        format!("mysql://root@127.0.0.1:{}/{name}", proxy.port)
    }

    #[actix_web::test]
    async fn a_database_that_stops_answering_gives_server_faults_within_the_read_deadline_and_service_resumes()
     {
        let db = Arc::new(TestDatabase::new(Backend::Mysql));
        let proxy = FreezingProxy::start(mysql_port());
        let mut settings = test_settings(&db);
        settings.database_url = Some(through(&db, &proxy));
        settings.db_statement_timeout = Some("1s".into());
        settings.db_read_timeout = Some("2s".into());
        let app = spawn_app_on(db.clone(), settings).await;
        app.seed_basic_clinic().await;
        app.soap(&Auth::admin(), "getCenters", "").await.assert_ok();

        proxy.freeze();
        for _ in 0..2 {
            let started = Instant::now();
            let reply = app.soap(&Auth::admin(), "getCenters", "").await;
            let waited = started.elapsed();
            reply.assert_fault("Server", "temporarily unavailable");
            assert!(
                waited < Duration::from_secs(8),
                "the fault came after {waited:?}: the read deadline (2 s) and the pool's wait \
                 (2 s) bound it"
            );
        }
        assert_eq!(app.get("/readyz").await.status().as_u16(), 503);

        proxy.thaw();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = app.soap(&Auth::admin(), "getCenters", "").await;
            if !reply.is_fault() {
                assert_eq!(reply.fields("CENTER_LID"), vec!["C1"]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "service did not resume: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    }

    /// A booking whose locking read gets no answer within the read deadline (here another
    /// session holds the resource's row for 3 s; on a Galera node the answer may never come)
    /// had stored nothing yet: its connection is cut, and it runs again on a fresh one.
    #[actix_web::test]
    async fn a_booking_whose_locking_read_gets_no_answer_runs_again_on_a_fresh_connection() {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;

        use crate::booking::{MONDAY, book, booked, clinic};

        let db = Arc::new(TestDatabase::new(Backend::Mysql));
        let mut settings = test_settings(&db);
        // Only the read deadline can end the wait (no MariaDB statement limit).
        settings.db_statement_timeout = Some("0s".into());
        settings.db_read_timeout = Some("2s".into());
        let app = spawn_app_on(db.clone(), settings).await;
        clinic(&app).await;

        let mut holder = diesel::MysqlConnection::establish(&db.url).unwrap();
        holder
            .batch_execute("BEGIN; UPDATE resources SET active = active WHERE lid = 'R1'")
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            holder.batch_execute("COMMIT").unwrap();
        });
        let started = Instant::now();
        let reply = book(&app, "R1", "A30", MONDAY, "10:00", &[]).await;
        let waited = started.elapsed();
        release.join().unwrap();
        booked(&reply);
        assert!(
            waited >= Duration::from_secs(2),
            "the first attempt waited for the read deadline: {waited:?}"
        );
        let mut conn = diesel::MysqlConnection::establish(&db.url).unwrap();
        let booked: i64 = rendez::db::schema::appointments::table
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(booked, 1, "one booking, not two");
    }

    /// Every use case runs again after such a cut, not only bookings: here a master-data push
    /// whose write of a center waits behind another session's lock for longer than the read
    /// deadline (the CI's Galera run saw `updateKeyEntities` answer "Server has gone away").
    #[actix_web::test]
    async fn a_master_data_push_whose_write_gets_no_answer_runs_again_on_a_fresh_connection() {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;

        use crate::booking::clinic;

        // The server's warnings (RUST_LOG) say why a call failed.
        let _ = env_logger::builder().is_test(true).try_init();
        let db = Arc::new(TestDatabase::new(Backend::Mysql));
        let mut settings = test_settings(&db);
        settings.db_statement_timeout = Some("0s".into());
        settings.db_read_timeout = Some("2s".into());
        let app = spawn_app_on(db.clone(), settings).await;
        clinic(&app).await;

        let mut holder = diesel::MysqlConnection::establish(&db.url).unwrap();
        holder
            .batch_execute("BEGIN; UPDATE centers SET active = active WHERE lid = 'C1'")
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            holder.batch_execute("COMMIT").unwrap();
        });
        let started = Instant::now();
        let reply = app
            .push_key_entities(
                &[&[
                    ("LOCATION_LID", "C1"),
                    ("LOCATION_NAME", "Centro renamed"),
                    ("LOCATION_TIMEZONE", "Europe/Madrid"),
                ]],
                false,
            )
            .await;
        let waited = started.elapsed();
        release.join().unwrap();
        reply.assert_ok();
        assert_eq!(
            reply.field("RESULT").as_deref(),
            Some("OK"),
            "{}",
            reply.body
        );
        assert!(
            waited >= Duration::from_secs(2),
            "the first attempt waited for the read deadline: {waited:?}"
        );
        let mut conn = diesel::MysqlConnection::establish(&db.url).unwrap();
        let name: String = rendez::db::schema::centers::table
            .filter(rendez::db::schema::centers::lid.eq("C1"))
            .select(rendez::db::schema::centers::name)
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(name, "Centro renamed", "the second attempt stored the push");
    }

    #[test]
    fn sigterm_stops_serve_within_the_shutdown_deadline_while_the_database_swallows_a_request() {
        let db = TestDatabase::new(Backend::Mysql);
        let proxy = FreezingProxy::start(mysql_port());
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(rendez_bin());
        for (name, _) in std::env::vars() {
            if name.starts_with("RENDEZ_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        let mut serve = command
            .args(["serve", "--no-workers"])
            .current_dir(dir.path())
            .env("RUST_LOG", "error")
            .env("DATABASE_URL", through(&db, &proxy))
            .env("RENDEZ_BIND", format!("127.0.0.1:{port}"))
            .env(
                "RENDEZ_SECRET_KEY",
                rendez::auth::SecretKey::generate().to_base64(),
            )
            // Deadlines far away: only the shutdown deadline can end the swallowed request.
            .env("RENDEZ_DB_STATEMENT_TIMEOUT", "100s")
            .env("RENDEZ_DB_READ_TIMEOUT", "120s")
            .env("RENDEZ_DB_TIMEOUT", "100s")
            .env("RENDEZ_SHUTDOWN_TIMEOUT", "3s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rendez serve starts");
        let ready = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(ready.elapsed() < Duration::from_secs(30), "serve listens");
            std::thread::sleep(Duration::from_millis(100));
        }

        proxy.freeze();
        // A request that needs the database: it waits on a statement nobody answers.
        let hanging = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _ =
                stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        });
        std::thread::sleep(Duration::from_millis(500));
        unsafe { libc::kill(serve.id() as i32, libc::SIGTERM) };
        let signalled = Instant::now();
        loop {
            if serve.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                signalled.elapsed() < Duration::from_secs(8),
                "SIGTERM stops serve within RENDEZ_SHUTDOWN_TIMEOUT (3 s) and a little"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = hanging.join();
    }
}
