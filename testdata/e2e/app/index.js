const express = require("express");
const { greeting } = require("./src/util");

const app = express();
app.get("/", (req, res) => res.send(greeting("world")));
app.listen(3000, () => console.log("listening on 3000"));
