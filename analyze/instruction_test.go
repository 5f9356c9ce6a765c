package analyze

import "testing"

func TestInstruction(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Legacy builder.
		{`/bin/sh -c #(nop) COPY file:4c3f0a9d2b1e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a in /app `, `COPY file:4c3f0a9d2b1e… /app`},
		{`/bin/sh -c #(nop) COPY dir:4c3f0a9d2b1e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a in . `, `COPY dir:4c3f0a9d2b1e… .`},
		{`/bin/sh -c #(nop) ADD file:566490d670f3dcf10f5b6e14917615e894aaa8ebd0ec6d8a4145e1cfa52562cd in / `, `ADD file:566490d670f3… /`},
		{`/bin/sh -c npm ci`, `RUN npm ci`},
		{`|2 NODE_ENV=production VERSION=1 /bin/sh -c npm ci`, `RUN npm ci`},
		{`/bin/sh -c #(nop)  CMD ["node" "index.js"]`, `CMD ["node" "index.js"]`},
		{`/bin/sh -c #(nop) WORKDIR /app`, `WORKDIR /app`},
		{`/bin/sh -c #(nop)  ENV NODE_ENV=production`, `ENV NODE_ENV=production`},
		{`/bin/sh -c #(nop)  EXPOSE 3000`, `EXPOSE 3000`},
		{`/bin/sh -c #(nop)  VOLUME [/data]`, `VOLUME [/data]`},
		// BuildKit.
		{`RUN /bin/sh -c npm ci # buildkit`, `RUN npm ci`},
		{`RUN |1 NODE_ENV=production /bin/sh -c npm ci # buildkit`, `RUN npm ci`},
		{`RUN npm ci # buildkit`, `RUN npm ci`},
		{`COPY . . # buildkit`, `COPY . .`},
		{`COPY package*.json ./ # buildkit`, `COPY package*.json ./`},
		{`WORKDIR /app`, `WORKDIR /app`},
		{`EXPOSE map[3000/tcp:{}]`, `EXPOSE 3000/tcp`},
		{`EXPOSE map[3000/tcp:{} 53/udp:{}]`, `EXPOSE 3000/tcp 53/udp`},
		// BuildKit 0.32 and later (Docker 29) print the ports as a list.
		{`EXPOSE [3000/tcp]`, `EXPOSE 3000/tcp`},
		{`EXPOSE [3000/tcp 53/udp]`, `EXPOSE 3000/tcp 53/udp`},
		{`ENV NODE_ENV=production`, `ENV NODE_ENV=production`},
		{`CMD ["node" "index.js"]`, `CMD ["node" "index.js"]`},
		// Whitespace, multi-line RUN and nothing at all.
		{"RUN /bin/sh -c apt-get update &&     apt-get install -y curl # buildkit", `RUN apt-get update && apt-get install -y curl`},
		{"", ""},
		{"   ", ""},
	} {
		if got := Instruction(tc.in); got != tc.want {
			t.Errorf("Instruction(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestKeyword(t *testing.T) {
	for in, want := range map[string]string{"RUN npm ci": "RUN", "COPY . .": "COPY", "": "", "(Imported from -)": ""} {
		if got := Keyword(in); got != want {
			t.Errorf("Keyword(%q) = %q, want %q", in, got, want)
		}
	}
}
