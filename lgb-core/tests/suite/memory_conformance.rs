//! The conformance suite against the in-process `memory` adapter.

use std::sync::Arc;

use lgb_core::database::memory::MemoryDatabase;
use lgb_core::database::Database;

conformance_suite!(Arc::new(MemoryDatabase::default()) as Arc<dyn Database>);
