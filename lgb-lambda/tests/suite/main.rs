//! lgb-lambda's integration tests, in one binary: the real `bootstrap` under the AWS
//! Lambda Runtime Interface Emulator (`rie`), Lambda workers that fail (`faults`) and
//! workers pinned to their deployment (`pinned`).
//! They share [`support`]: the emulator harness and the AWS credentials of the process.

mod control_plane;
mod faults;
mod pinned;
mod rie;
mod support;
