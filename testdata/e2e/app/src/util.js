// Tests edit the greeting line below to invalidate the "COPY . ." layer.
function greeting(name) {
  return "hello, " + name;
}

module.exports = { greeting };
