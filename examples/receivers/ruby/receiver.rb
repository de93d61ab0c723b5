# A Calendence webhook receiver in Ruby 3.0+ with WEBrick (gem install webrick).
# Run: CALENDENCE_WEBHOOK_SECRET=whsec_... PORT=9000 ruby receiver.rb
# In Rails or Sinatra: request.raw_post / request.body.read, and Rack::Utils.secure_compare.

require "json"
require "openssl"
require "set"
require "webrick"

SECRET = ENV.fetch("CALENDENCE_WEBHOOK_SECRET") # the whole string, whsec_ included
PORT = Integer(ENV.fetch("PORT", "9000"))
SIGNATURE_HEADERS = ["X-Calendence-Signature", "X-Calendence-Signature-Previous"]
seen_event_ids = Set.new # in production: a unique column in your database
$stdout.sync = true

def signed_by_calendence?(raw_body, request)
  expected = "sha256=" + OpenSSL::HMAC.hexdigest("SHA256", SECRET, raw_body)
  # OpenSSL.secure_compare: constant time, and safe with strings of different lengths
  SIGNATURE_HEADERS.any? { |name| OpenSSL.secure_compare(expected, request[name].to_s) }
end

server = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: PORT, AccessLog: [],
                                 Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN))
server.mount_proc "/" do |request, response|
  raw_body = request.body || "" # the exact bytes, before JSON.parse
  if request.request_method != "POST" || !signed_by_calendence?(raw_body, request)
    response.status = 401
    next
  end
  event = JSON.parse(raw_body)
  response.status = 200 # answer fast; do slow work in a queue
  next if seen_event_ids.include?(event["id"]) # a retry of an event already handled
  seen_event_ids << event["id"]
  puts "verified #{event["event"]} #{event["id"]}"
end
trap("INT") { server.shutdown }
trap("TERM") { server.shutdown }
server.start
