//! Reading a Lambda event as the worker does (`Invocation::classify`, then the Function
//! URL body, base64 or plain) never panics, whatever the event, and what it reads is
//! stable: a decoded event re-encodes to the same event, and a body wrapped again by
//! `FunctionUrlRequest::wrap` reads back byte for byte.
#![no_main]
use lgb_core::worker::lambda::{FunctionUrlRequest, Invocation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let request = match Invocation::classify(event) {
        Invocation::FunctionUrl(Ok(request)) => request,
        // A refusal names what is wrong.
        Invocation::FunctionUrl(Err(e)) => {
            assert!(!e.to_string().is_empty());
            return;
        }
        Invocation::Direct(_) => return,
    };
    let again = serde_json::to_value(&request).expect("a decoded event encodes");
    match Invocation::classify(again) {
        Invocation::FunctionUrl(Ok(back)) => assert_eq!(back, request),
        other => panic!("a re-encoded event reads differently: {other:?}"),
    }
    let Ok(body) = request.body_bytes() else {
        return;
    };
    assert!(!body.is_empty(), "an accepted body is never empty");
    let wrapped = FunctionUrlRequest::wrap(&body, true);
    assert_eq!(wrapped.body_bytes().expect("base64 round trip"), body);
    // A plain body is text; whitespace alone is refused as "no body".
    if let Ok(text) = std::str::from_utf8(&body) {
        if !text.trim().is_empty() {
            let plain = FunctionUrlRequest::wrap(&body, false);
            assert_eq!(plain.body_bytes().expect("plain round trip"), body);
        }
    }
    // What the worker does next with the body: decode it as a request.
    let _ = lgb_core::protocol::decode_request(&body);
});
