//! Several nodes on one database: the nodes listing and jobs waiting for a dead node
//! (`nodes_api`, in-process, both databases), cron firing exactly once per fire time with
//! several real `keywarden serve` processes (`cron_once`), and three processes killed
//! with SIGKILL and restarted while they run thousands of jobs (`chaos`). The process
//! tests need PostgreSQL (`KEYWARDEN_TEST_DATABASE_URL`); without it they print SKIPPED
//! and pass, except under `CI`. See docs/cluster.md for the guarantees they check.

mod chaos;
mod cron_once;
mod nodes_api;
mod processes;
