"""The HTTP/JSON edge: a FastAPI app over the same domain calls as the gRPC servicers, served
by uvicorn in the gRPC server's event loop, plus the web page."""
