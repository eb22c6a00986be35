Rails.application.routes.draw do
  get "/health", to: "health#show"
  get "/up", to: "health#show"

  post "/auth/register", to: "auth#register"
  post "/auth/login", to: "auth#login"

  get "/conversations", to: "conversations#index"
  post "/conversations", to: "conversations#create"
  get "/conversations/:id", to: "conversations#show"
  get "/conversations/:conversation_id/messages", to: "messages#index"
  post "/messages", to: "messages#create"

  get "/expert/queue", to: "expert#queue"
  post "/expert/conversations/:conversation_id/claim", to: "expert#claim"
  post "/expert/conversations/:conversation_id/unclaim", to: "expert#unclaim"

  get "/api/conversations/updates", to: "updates#conversations"
  get "/api/messages/updates", to: "updates#messages"
  get "/api/expert-queue/updates", to: "updates#expert_queue"
end
